/**
 * libcrypto symbols of certificate signing requests (`X509_REQ`), merged
 * into the libcrypto table of `symbols.ts`; C prototype per line.
 *
 * Macros that are not symbols, and what stands for them: `sk_X509_EXTENSION_*`
 * → `OPENSSL_sk_*`; `sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free)` →
 *
 * @module
 */

import { LONG } from "./ctypes.ts";

/** libcrypto symbols of certificate requests. */
export const CSR_CRYPTO_SYMBOLS = {
  X509_REQ_new: { parameters: [], result: "pointer" }, // X509_REQ *X509_REQ_new(void)
  X509_REQ_free: { parameters: ["pointer"], result: "void" }, // void X509_REQ_free(X509_REQ *a)
  d2i_X509_REQ: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // X509_REQ *d2i_X509_REQ(X509_REQ **a, const unsigned char **in, long len)
  i2d_X509_REQ: { parameters: ["pointer", "buffer"], result: "i32" }, // int i2d_X509_REQ(const X509_REQ *a, unsigned char **out)
  PEM_read_bio_X509_REQ: {
    parameters: ["pointer", "pointer", "pointer", "pointer"],
    result: "pointer",
  }, // X509_REQ *PEM_read_bio_X509_REQ(BIO *bp, X509_REQ **x, pem_password_cb *cb, void *u)
  PEM_write_bio_X509_REQ: { parameters: ["pointer", "pointer"], result: "i32" }, // int PEM_write_bio_X509_REQ(BIO *bp, const X509_REQ *x)
  X509_REQ_set_version: { parameters: ["pointer", LONG], result: "i32" }, // int X509_REQ_set_version(X509_REQ *x, long version)
  X509_REQ_get_version: { parameters: ["pointer"], result: LONG }, // long X509_REQ_get_version(const X509_REQ *req)
  X509_REQ_get_subject_name: { parameters: ["pointer"], result: "pointer" }, // X509_NAME *X509_REQ_get_subject_name(const X509_REQ *req)
  X509_REQ_set_subject_name: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_REQ_set_subject_name(X509_REQ *req, const X509_NAME *name)
  X509_REQ_set_pubkey: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_REQ_set_pubkey(X509_REQ *x, EVP_PKEY *pkey)
  X509_REQ_get_pubkey: { parameters: ["pointer"], result: "pointer" }, // EVP_PKEY *X509_REQ_get_pubkey(X509_REQ *req)
  X509_REQ_get0_pubkey: { parameters: ["pointer"], result: "pointer" }, // EVP_PKEY *X509_REQ_get0_pubkey(X509_REQ *req)
  X509_REQ_sign: { parameters: ["pointer", "pointer", "pointer"], result: "i32" }, // int X509_REQ_sign(X509_REQ *x, EVP_PKEY *pkey, const EVP_MD *md)
  X509_REQ_verify: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_REQ_verify(X509_REQ *a, EVP_PKEY *r)
  X509_REQ_get_signature_nid: { parameters: ["pointer"], result: "i32" }, // int X509_REQ_get_signature_nid(const X509_REQ *req)
  X509_REQ_add_extensions: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_REQ_add_extensions(X509_REQ *req, const STACK_OF(X509_EXTENSION) *ext)
  X509_REQ_get_extensions: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(X509_EXTENSION) *X509_REQ_get_extensions(X509_REQ *req)
  X509_REQ_check_private_key: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_REQ_check_private_key(X509_REQ *x509, EVP_PKEY *pkey)
  X509V3_EXT_nconf: {
    parameters: ["pointer", "buffer", "buffer", "buffer"],
    result: "pointer",
  }, // X509_EXTENSION *X509V3_EXT_nconf(CONF *conf, X509V3_CTX *ctx, const char *name, const char *value)
  X509V3_EXT_d2i: { parameters: ["pointer"], result: "pointer" }, // void *X509V3_EXT_d2i(X509_EXTENSION *ext)
} as const satisfies Deno.ForeignLibraryInterface;
