/* engine/io/hash.c — SHA-256 of input files for provenance (model files,
 * manifests), computed with OpenSSL's libcrypto in 1 MiB reads so any file
 * size hashes in bounded memory. */
#include "internal.h"
#include "model_file.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define HASH_BUF (1u << 20)

/* The hash itself, on no context: a status and, on failure, err (a
 * strerror-style reason) for the caller to report. */
strata_status strata_sha256_file_buf(const char *path, unsigned char *buf, size_t size, char out[65],
                                     const char **err)
{
    FILE *f;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *h;
    size_t got;
    strata_status st = STRATA_OK;
    out[0] = '\0';
    *err = NULL;
    if (!(f = fopen(path, "rb"))) {
        *err = strerror(errno);
        return STRATA_EIO;
    }
    if (!(h = EVP_MD_CTX_new())) {
        fclose(f);
        *err = "out of memory hashing";
        return STRATA_ENOMEM;
    }
    if (EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1)
        st = STRATA_EINTERNAL, *err = "SHA-256 unavailable";
    while (st == STRATA_OK && (got = fread(buf, 1, size, f)) > 0)
        if (EVP_DigestUpdate(h, buf, got) != 1)
            st = STRATA_EINTERNAL, *err = "SHA-256 update failed";
    if (st == STRATA_OK && ferror(f))
        st = STRATA_EIO, *err = "read error while hashing";
    if (st == STRATA_OK && EVP_DigestFinal_ex(h, md, &mdlen) != 1)
        st = STRATA_EINTERNAL, *err = "SHA-256 final failed";
    if (st == STRATA_OK)
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(h);
    fclose(f);
    return st;
}

strata_status strata_file_sha256(strata_ctx *ctx, const char *path, char out[65])
{
    unsigned char *buf = strata_alloc(ctx, HASH_BUF);
    const char *err = NULL;
    strata_status st;
    out[0] = '\0';
    if (!buf)
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory hashing", path);
    st = strata_sha256_file_buf(path, buf, HASH_BUF, out, &err);
    strata_free(ctx, buf, HASH_BUF);
    if (st == STRATA_EIO && err && strcmp(err, "read error while hashing"))
        return STRATA_FAIL(ctx, st, "%s: cannot open: %s", path, err);
    return st == STRATA_OK ? st : STRATA_FAIL(ctx, st, "%s: %s", path, err);
}
