/**
 * libcrypto symbols for certificates, names, keys, stores and PKCS#12.
 * Merged into the libcrypto table by `symbols.ts`; C prototype per line.
 *
 * Macros that are not symbols in OpenSSL 3.0, and what stands for them here:
 * `X509_get_notBefore`/`X509_get_notAfter` → `X509_getm_notBefore`/`X509_getm_notAfter`
 * (or the `get0` forms); `X509_NAME_hash` → `X509_NAME_hash_ex(x, NULL, NULL, NULL)`;
 * `EVP_PKEY_bits` → `EVP_PKEY_get_bits`; `EVP_PKEY_base_id` → `EVP_PKEY_get_base_id`;
 * `OPENSSL_free` → `CRYPTO_free`; `sk_*` → `OPENSSL_sk_*` (in `symbols.ts`);
 * `X509V3_set_ctx_nodb` → a zeroed `X509V3_CTX`.
 *
 * @module
 */

import { LONG, ULONG } from "./ctypes.ts";

/** Certificate, key and store symbols of libcrypto. */
export const X509_SYMBOLS = {
  // ---- X509: life cycle and encodings -------------------------------------------
  X509_new: { parameters: [], result: "pointer" }, // X509 *X509_new(void)
  X509_free: { parameters: ["pointer"], result: "void" }, // void X509_free(X509 *a)
  X509_up_ref: { parameters: ["pointer"], result: "i32" }, // int X509_up_ref(X509 *a)
  d2i_X509: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // X509 *d2i_X509(X509 **a, const unsigned char **in, long len)
  i2d_X509: { parameters: ["pointer", "buffer"], result: "i32" }, // int i2d_X509(const X509 *a, unsigned char **out)
  PEM_read_bio_X509: {
    parameters: ["pointer", "pointer", "pointer", "pointer"],
    result: "pointer",
  }, // X509 *PEM_read_bio_X509(BIO *bp, X509 **x, pem_password_cb *cb, void *u)
  PEM_write_bio_X509: { parameters: ["pointer", "pointer"], result: "i32" }, // int PEM_write_bio_X509(BIO *bp, const X509 *x)
  X509_print_ex: { parameters: ["pointer", "pointer", ULONG, ULONG], result: "i32" }, // int X509_print_ex(BIO *bp, X509 *x, unsigned long nmflag, unsigned long cflag)
  X509_cmp: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_cmp(const X509 *a, const X509 *b)
  X509_digest: { parameters: ["pointer", "pointer", "buffer", "buffer"], result: "i32" }, // int X509_digest(const X509 *data, const EVP_MD *type, unsigned char *md, unsigned int *len)

  // ---- X509: fields ----------------------------------------------------------------
  X509_get_subject_name: { parameters: ["pointer"], result: "pointer" }, // X509_NAME *X509_get_subject_name(const X509 *a)
  X509_get_issuer_name: { parameters: ["pointer"], result: "pointer" }, // X509_NAME *X509_get_issuer_name(const X509 *a)
  X509_set_subject_name: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_set_subject_name(X509 *x, const X509_NAME *name)
  X509_set_issuer_name: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_set_issuer_name(X509 *x, const X509_NAME *name)
  X509_get_serialNumber: { parameters: ["pointer"], result: "pointer" }, // ASN1_INTEGER *X509_get_serialNumber(X509 *x)
  X509_get0_serialNumber: { parameters: ["pointer"], result: "pointer" }, // const ASN1_INTEGER *X509_get0_serialNumber(const X509 *x)
  X509_get_version: { parameters: ["pointer"], result: LONG }, // long X509_get_version(const X509 *x)
  X509_set_version: { parameters: ["pointer", LONG], result: "i32" }, // int X509_set_version(X509 *x, long version)
  X509_get0_notBefore: { parameters: ["pointer"], result: "pointer" }, // const ASN1_TIME *X509_get0_notBefore(const X509 *x)
  X509_get0_notAfter: { parameters: ["pointer"], result: "pointer" }, // const ASN1_TIME *X509_get0_notAfter(const X509 *x)
  X509_getm_notBefore: { parameters: ["pointer"], result: "pointer" }, // ASN1_TIME *X509_getm_notBefore(const X509 *x)
  X509_getm_notAfter: { parameters: ["pointer"], result: "pointer" }, // ASN1_TIME *X509_getm_notAfter(const X509 *x)
  X509_get_pubkey: { parameters: ["pointer"], result: "pointer" }, // EVP_PKEY *X509_get_pubkey(X509 *x)
  X509_set_pubkey: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_set_pubkey(X509 *x, EVP_PKEY *pkey)
  X509_get_signature_nid: { parameters: ["pointer"], result: "i32" }, // int X509_get_signature_nid(const X509 *x)
  X509_get_extension_flags: { parameters: ["pointer"], result: "u32" }, // uint32_t X509_get_extension_flags(X509 *x)
  X509_get_key_usage: { parameters: ["pointer"], result: "u32" }, // uint32_t X509_get_key_usage(X509 *x)
  X509_get_pathlen: { parameters: ["pointer"], result: LONG }, // long X509_get_pathlen(X509 *x)
  X509_sign: { parameters: ["pointer", "pointer", "pointer"], result: "i32" }, // int X509_sign(X509 *x, EVP_PKEY *pkey, const EVP_MD *md)

  // ---- X509: extensions -------------------------------------------------------------
  X509_get_ext_count: { parameters: ["pointer"], result: "i32" }, // int X509_get_ext_count(const X509 *x)
  X509_get_ext: { parameters: ["pointer", "i32"], result: "pointer" }, // X509_EXTENSION *X509_get_ext(const X509 *x, int loc)
  X509_get_ext_d2i: { parameters: ["pointer", "i32", "buffer", "buffer"], result: "pointer" }, // void *X509_get_ext_d2i(const X509 *x, int nid, int *crit, int *idx)
  X509_add_ext: { parameters: ["pointer", "pointer", "i32"], result: "i32" }, // int X509_add_ext(X509 *x, X509_EXTENSION *ex, int loc)
  X509_EXTENSION_get_object: { parameters: ["pointer"], result: "pointer" }, // ASN1_OBJECT *X509_EXTENSION_get_object(X509_EXTENSION *ex)
  X509_EXTENSION_get_critical: { parameters: ["pointer"], result: "i32" }, // int X509_EXTENSION_get_critical(const X509_EXTENSION *ex)
  X509_EXTENSION_free: { parameters: ["pointer"], result: "void" }, // void X509_EXTENSION_free(X509_EXTENSION *a)
  X509V3_EXT_print: { parameters: ["pointer", "pointer", ULONG, "i32"], result: "i32" }, // int X509V3_EXT_print(BIO *out, X509_EXTENSION *ext, unsigned long flag, int indent)
  X509V3_set_ctx: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "i32"],
    result: "void",
  }, // void X509V3_set_ctx(X509V3_CTX *ctx, X509 *issuer, X509 *subject, X509_REQ *req, X509_CRL *crl, int flags)
  X509V3_EXT_nconf_nid: {
    parameters: ["pointer", "buffer", "i32", "buffer"],
    result: "pointer",
  }, // X509_EXTENSION *X509V3_EXT_nconf_nid(CONF *conf, X509V3_CTX *ctx, int ext_nid, const char *value)
  GENERAL_NAMES_free: { parameters: ["pointer"], result: "void" }, // void GENERAL_NAMES_free(GENERAL_NAMES *a)
  GENERAL_NAME_get0_value: { parameters: ["pointer", "buffer"], result: "pointer" }, // void *GENERAL_NAME_get0_value(const GENERAL_NAME *a, int *ptype)
  EXTENDED_KEY_USAGE_free: { parameters: ["pointer"], result: "void" }, // void EXTENDED_KEY_USAGE_free(EXTENDED_KEY_USAGE *a)

  // ---- ASN.1 helpers, objects, big numbers ------------------------------------------
  ASN1_STRING_get0_data: { parameters: ["pointer"], result: "pointer" }, // const unsigned char *ASN1_STRING_get0_data(const ASN1_STRING *x)
  ASN1_STRING_length: { parameters: ["pointer"], result: "i32" }, // int ASN1_STRING_length(const ASN1_STRING *x)
  ASN1_STRING_to_UTF8: { parameters: ["buffer", "pointer"], result: "i32" }, // int ASN1_STRING_to_UTF8(unsigned char **out, const ASN1_STRING *in)
  ASN1_TIME_to_tm: { parameters: ["pointer", "buffer"], result: "i32" }, // int ASN1_TIME_to_tm(const ASN1_TIME *s, struct tm *tm)
  ASN1_TIME_set: { parameters: ["pointer", "i64"], result: "pointer" }, // ASN1_TIME *ASN1_TIME_set(ASN1_TIME *s, time_t t)
  ASN1_INTEGER_to_BN: { parameters: ["pointer", "pointer"], result: "pointer" }, // BIGNUM *ASN1_INTEGER_to_BN(const ASN1_INTEGER *ai, BIGNUM *bn)
  BN_to_ASN1_INTEGER: { parameters: ["pointer", "pointer"], result: "pointer" }, // ASN1_INTEGER *BN_to_ASN1_INTEGER(const BIGNUM *bn, ASN1_INTEGER *ai)
  BN_bn2hex: { parameters: ["pointer"], result: "pointer" }, // char *BN_bn2hex(const BIGNUM *a)
  BN_hex2bn: { parameters: ["buffer", "buffer"], result: "i32" }, // int BN_hex2bn(BIGNUM **a, const char *str)
  BN_free: { parameters: ["pointer"], result: "void" }, // void BN_free(BIGNUM *a)
  OBJ_obj2nid: { parameters: ["pointer"], result: "i32" }, // int OBJ_obj2nid(const ASN1_OBJECT *o)
  OBJ_nid2sn: { parameters: ["i32"], result: "pointer" }, // const char *OBJ_nid2sn(int n)
  OBJ_nid2ln: { parameters: ["i32"], result: "pointer" }, // const char *OBJ_nid2ln(int n)
  OBJ_obj2txt: { parameters: ["buffer", "i32", "pointer", "i32"], result: "i32" }, // int OBJ_obj2txt(char *buf, int buf_len, const ASN1_OBJECT *a, int no_name)
  EVP_get_digestbyname: { parameters: ["buffer"], result: "pointer" }, // const EVP_MD *EVP_get_digestbyname(const char *name)
  EVP_get_cipherbyname: { parameters: ["buffer"], result: "pointer" }, // const EVP_CIPHER *EVP_get_cipherbyname(const char *name)
  EVP_sha256: { parameters: [], result: "pointer" }, // const EVP_MD *EVP_sha256(void)

  // ---- names -----------------------------------------------------------------------
  X509_NAME_new: { parameters: [], result: "pointer" }, // X509_NAME *X509_NAME_new(void)
  X509_NAME_dup: { parameters: ["pointer"], result: "pointer" }, // X509_NAME *X509_NAME_dup(const X509_NAME *xn)
  X509_NAME_free: { parameters: ["pointer"], result: "void" }, // void X509_NAME_free(X509_NAME *a)
  X509_NAME_entry_count: { parameters: ["pointer"], result: "i32" }, // int X509_NAME_entry_count(const X509_NAME *name)
  X509_NAME_get_entry: { parameters: ["pointer", "i32"], result: "pointer" }, // X509_NAME_ENTRY *X509_NAME_get_entry(const X509_NAME *name, int loc)
  X509_NAME_ENTRY_get_object: { parameters: ["pointer"], result: "pointer" }, // ASN1_OBJECT *X509_NAME_ENTRY_get_object(const X509_NAME_ENTRY *ne)
  X509_NAME_ENTRY_get_data: { parameters: ["pointer"], result: "pointer" }, // ASN1_STRING *X509_NAME_ENTRY_get_data(const X509_NAME_ENTRY *ne)
  X509_NAME_add_entry_by_txt: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "i32", "i32"],
    result: "i32",
  }, // int X509_NAME_add_entry_by_txt(X509_NAME *name, const char *field, int type, const unsigned char *bytes, int len, int loc, int set)
  X509_NAME_print_ex: { parameters: ["pointer", "pointer", "i32", ULONG], result: "i32" }, // int X509_NAME_print_ex(BIO *out, const X509_NAME *nm, int indent, unsigned long flags)
  X509_NAME_hash_ex: { parameters: ["pointer", "pointer", "pointer", "buffer"], result: ULONG }, // unsigned long X509_NAME_hash_ex(const X509_NAME *x, OSSL_LIB_CTX *libctx, const char *propq, int *ok)
  X509_NAME_cmp: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_NAME_cmp(const X509_NAME *a, const X509_NAME *b)

  // ---- keys ------------------------------------------------------------------------
  EVP_PKEY_free: { parameters: ["pointer"], result: "void" }, // void EVP_PKEY_free(EVP_PKEY *pkey)
  EVP_PKEY_up_ref: { parameters: ["pointer"], result: "i32" }, // int EVP_PKEY_up_ref(EVP_PKEY *key)
  PEM_read_bio_PrivateKey: {
    parameters: ["pointer", "pointer", "pointer", "buffer"],
    result: "pointer",
  }, // EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u)
  PEM_read_bio_PUBKEY: {
    parameters: ["pointer", "pointer", "pointer", "pointer"],
    result: "pointer",
  }, // EVP_PKEY *PEM_read_bio_PUBKEY(BIO *bp, EVP_PKEY **x, pem_password_cb *cb, void *u)
  PEM_write_bio_PKCS8PrivateKey: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
  }, // int PEM_write_bio_PKCS8PrivateKey(BIO *, const EVP_PKEY *, const EVP_CIPHER *, const char *kstr, int klen, pem_password_cb *cb, void *u)
  i2d_PKCS8PrivateKey_bio: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "i32", "pointer", "pointer"],
    result: "i32",
  }, // int i2d_PKCS8PrivateKey_bio(BIO *bp, const EVP_PKEY *x, const EVP_CIPHER *enc, const char *kstr, int klen, pem_password_cb *cb, void *u)
  PEM_write_bio_PUBKEY: { parameters: ["pointer", "pointer"], result: "i32" }, // int PEM_write_bio_PUBKEY(BIO *bp, const EVP_PKEY *x)
  d2i_AutoPrivateKey: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // EVP_PKEY *d2i_AutoPrivateKey(EVP_PKEY **a, const unsigned char **pp, long length)
  d2i_PUBKEY: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // EVP_PKEY *d2i_PUBKEY(EVP_PKEY **a, const unsigned char **pp, long length)
  i2d_PUBKEY: { parameters: ["pointer", "buffer"], result: "i32" }, // int i2d_PUBKEY(const EVP_PKEY *a, unsigned char **pp)
  EVP_PKEY_get0_type_name: { parameters: ["pointer"], result: "pointer" }, // const char *EVP_PKEY_get0_type_name(const EVP_PKEY *key)
  EVP_PKEY_get_bits: { parameters: ["pointer"], result: "i32" }, // int EVP_PKEY_get_bits(const EVP_PKEY *pkey)
  EVP_PKEY_get_group_name: {
    parameters: ["pointer", "buffer", "usize", "buffer"],
    result: "i32",
  }, // int EVP_PKEY_get_group_name(const EVP_PKEY *pkey, char *name, size_t name_sz, size_t *gname_len)
  EVP_PKEY_eq: { parameters: ["pointer", "pointer"], result: "i32" }, // int EVP_PKEY_eq(const EVP_PKEY *a, const EVP_PKEY *b)
  EVP_PKEY_CTX_new_from_name: {
    parameters: ["pointer", "buffer", "pointer"],
    result: "pointer",
  }, // EVP_PKEY_CTX *EVP_PKEY_CTX_new_from_name(OSSL_LIB_CTX *libctx, const char *name, const char *propquery)
  EVP_PKEY_CTX_free: { parameters: ["pointer"], result: "void" }, // void EVP_PKEY_CTX_free(EVP_PKEY_CTX *ctx)
  EVP_PKEY_keygen_init: { parameters: ["pointer"], result: "i32" }, // int EVP_PKEY_keygen_init(EVP_PKEY_CTX *ctx)
  EVP_PKEY_CTX_set_group_name: { parameters: ["pointer", "buffer"], result: "i32" }, // int EVP_PKEY_CTX_set_group_name(EVP_PKEY_CTX *ctx, const char *name)
  EVP_PKEY_CTX_set_rsa_keygen_bits: { parameters: ["pointer", "i32"], result: "i32" }, // int EVP_PKEY_CTX_set_rsa_keygen_bits(EVP_PKEY_CTX *ctx, int bits)
  EVP_PKEY_generate: { parameters: ["pointer", "buffer"], result: "i32" }, // int EVP_PKEY_generate(EVP_PKEY_CTX *ctx, EVP_PKEY **ppkey)

  // ---- stores and verification --------------------------------------------------------
  X509_STORE_new: { parameters: [], result: "pointer" }, // X509_STORE *X509_STORE_new(void)
  X509_STORE_free: { parameters: ["pointer"], result: "void" }, // void X509_STORE_free(X509_STORE *v)
  X509_STORE_up_ref: { parameters: ["pointer"], result: "i32" }, // int X509_STORE_up_ref(X509_STORE *v)
  X509_STORE_add_cert: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_STORE_add_cert(X509_STORE *xs, X509 *x)
  X509_STORE_add_crl: { parameters: ["pointer", "pointer"], result: "i32" }, // int X509_STORE_add_crl(X509_STORE *ctx, X509_CRL *x)
  X509_STORE_load_locations: { parameters: ["pointer", "buffer", "buffer"], result: "i32" }, // int X509_STORE_load_locations(X509_STORE *ctx, const char *file, const char *dir)
  X509_STORE_set_default_paths: { parameters: ["pointer"], result: "i32" }, // int X509_STORE_set_default_paths(X509_STORE *ctx)
  X509_STORE_set_flags: { parameters: ["pointer", ULONG], result: "i32" }, // int X509_STORE_set_flags(X509_STORE *ctx, unsigned long flags)
  X509_STORE_get0_param: { parameters: ["pointer"], result: "pointer" }, // X509_VERIFY_PARAM *X509_STORE_get0_param(const X509_STORE *ctx)
  X509_VERIFY_PARAM_set_time: { parameters: ["pointer", "i64"], result: "void" }, // void X509_VERIFY_PARAM_set_time(X509_VERIFY_PARAM *param, time_t t)
  X509_STORE_CTX_new: { parameters: [], result: "pointer" }, // X509_STORE_CTX *X509_STORE_CTX_new(void)
  X509_STORE_CTX_free: { parameters: ["pointer"], result: "void" }, // void X509_STORE_CTX_free(X509_STORE_CTX *ctx)
  X509_STORE_CTX_init: {
    parameters: ["pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  }, // int X509_STORE_CTX_init(X509_STORE_CTX *ctx, X509_STORE *trust_store, X509 *target, STACK_OF(X509) *untrusted)
  X509_STORE_CTX_get0_param: { parameters: ["pointer"], result: "pointer" }, // X509_VERIFY_PARAM *X509_STORE_CTX_get0_param(const X509_STORE_CTX *ctx)
  X509_STORE_CTX_set_purpose: { parameters: ["pointer", "i32"], result: "i32" }, // int X509_STORE_CTX_set_purpose(X509_STORE_CTX *ctx, int purpose)
  X509_STORE_CTX_set_time: { parameters: ["pointer", ULONG, "i64"], result: "void" }, // void X509_STORE_CTX_set_time(X509_STORE_CTX *ctx, unsigned long flags, time_t t)
  X509_STORE_CTX_get0_chain: { parameters: ["pointer"], result: "pointer" }, // STACK_OF(X509) *X509_STORE_CTX_get0_chain(const X509_STORE_CTX *ctx)
  X509_verify_cert: { parameters: ["pointer"], result: "i32" }, // int X509_verify_cert(X509_STORE_CTX *ctx)
  PEM_read_bio_X509_CRL: {
    parameters: ["pointer", "pointer", "pointer", "pointer"],
    result: "pointer",
  }, // X509_CRL *PEM_read_bio_X509_CRL(BIO *bp, X509_CRL **x, pem_password_cb *cb, void *u)
  d2i_X509_CRL: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // X509_CRL *d2i_X509_CRL(X509_CRL **a, const unsigned char **in, long len)
  X509_CRL_free: { parameters: ["pointer"], result: "void" }, // void X509_CRL_free(X509_CRL *a)

  // ---- PKCS#12 ----------------------------------------------------------------------
  d2i_PKCS12: { parameters: ["pointer", "buffer", LONG], result: "pointer" }, // PKCS12 *d2i_PKCS12(PKCS12 **a, const unsigned char **in, long len)
  i2d_PKCS12: { parameters: ["pointer", "buffer"], result: "i32" }, // int i2d_PKCS12(const PKCS12 *a, unsigned char **out)
  PKCS12_free: { parameters: ["pointer"], result: "void" }, // void PKCS12_free(PKCS12 *a)
  PKCS12_verify_mac: { parameters: ["pointer", "buffer", "i32"], result: "i32" }, // int PKCS12_verify_mac(PKCS12 *p12, const char *pass, int passlen)
  PKCS12_parse: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  }, // int PKCS12_parse(PKCS12 *p12, const char *pass, EVP_PKEY **pkey, X509 **cert, STACK_OF(X509) **ca)
  PKCS12_create: {
    parameters: [
      "buffer", // const char *pass
      "buffer", // const char *name
      "pointer", // EVP_PKEY *pkey
      "pointer", // X509 *cert
      "pointer", // STACK_OF(X509) *ca
      "i32", // int nid_key
      "i32", // int nid_cert
      "i32", // int iter
      "i32", // int mac_iter
      "i32", // int keytype
    ],
    result: "pointer", // PKCS12 *
  },
} as const satisfies Deno.ForeignLibraryInterface;
