/**
 * libcrypto symbols for certificates, names, keys, stores and PKCS#12.
 * Merged into the libcrypto table by `symbols.ts`; C prototype per line.
 *
 * @module
 */

import { LONG } from "./ctypes.ts";

/** Certificate, key and store symbols of libcrypto. */
export const X509_SYMBOLS = {
  // ---- X509 -------------------------------------------------------------------
  X509_free: { parameters: ["pointer"], result: "void" }, // void X509_free(X509 *a)
  X509_up_ref: { parameters: ["pointer"], result: "i32" }, // int X509_up_ref(X509 *a)
  d2i_X509: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // X509 *d2i_X509(X509 **a, const unsigned char **in, long len)
  i2d_X509: { parameters: ["pointer", "buffer"], result: "i32" }, // int i2d_X509(const X509 *a, unsigned char **out)
  PEM_read_bio_X509: {
    parameters: ["pointer", "pointer", "pointer", "pointer"],
    result: "pointer",
  }, // X509 *PEM_read_bio_X509(BIO *bp, X509 **x, pem_password_cb *cb, void *u)

  // ---- keys -------------------------------------------------------------------
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" }, // void EVP_PKEY_free(EVP_PKEY *pkey)
  EVP_PKEY_up_ref: { parameters: ["pointer"], result: "i32" }, // int EVP_PKEY_up_ref(EVP_PKEY *key)
  PEM_read_bio_PrivateKey: {
    parameters: ["pointer", "pointer", "pointer", "buffer"],
    result: "pointer",
  }, // EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u)

  // ---- stores and names ---------------------------------------------------------
  X509_STORE_add_cert: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_STORE_add_cert(X509_STORE *xs, X509 *x)
  X509_NAME_dup: { parameters: ["pointer"], result: "pointer" }, // X509_NAME *X509_NAME_dup(const X509_NAME *xn)
  X509_NAME_free: { parameters: ["pointer"], result: "void" }, // void X509_NAME_free(X509_NAME *a)
} as const satisfies Deno.ForeignLibraryInterface;
