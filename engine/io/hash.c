/* engine/io/hash.c — SHA-256 of input files for provenance (model files,
 * manifests), computed with OpenSSL's libcrypto in 1 MiB reads so any file
 * size hashes in bounded memory. */
#include "internal.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define HASH_BUF (1u << 20)

strata_status strata_file_sha256(strata_ctx *ctx, const char *path, char out[65])
{
    FILE *f;
    unsigned char *buf, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *h;
    size_t got;
    strata_status st = STRATA_OK;
    out[0] = '\0';
    f = fopen(path, "rb");
    if (!f)
        return STRATA_FAIL(ctx, STRATA_EIO, "%s: cannot open: %s", path, strerror(errno));
    buf = strata_alloc(ctx, HASH_BUF);
    h = EVP_MD_CTX_new();
    if (!buf || !h) {
        fclose(f);
        strata_free(ctx, buf, HASH_BUF);
        EVP_MD_CTX_free(h);
        return STRATA_FAIL(ctx, STRATA_ENOMEM, "%s: out of memory hashing", path);
    }
    if (EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1)
        st = STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: SHA-256 unavailable", path);
    while (st == STRATA_OK && (got = fread(buf, 1, HASH_BUF, f)) > 0)
        if (EVP_DigestUpdate(h, buf, got) != 1)
            st = STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: SHA-256 update failed", path);
    if (st == STRATA_OK && ferror(f))
        st = STRATA_FAIL(ctx, STRATA_EIO, "%s: read error while hashing", path);
    if (st == STRATA_OK && EVP_DigestFinal_ex(h, md, &mdlen) != 1)
        st = STRATA_FAIL(ctx, STRATA_EINTERNAL, "%s: SHA-256 final failed", path);
    if (st == STRATA_OK)
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(h);
    strata_free(ctx, buf, HASH_BUF);
    fclose(f);
    return st;
}
