/*
 * tls_sans.c — what a node's certificate may name (tls_sans.h).
 */
#include "cluster/master/tls_sans.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

bool tls_csr_sans(X509_REQ *req, char out[][TLS_SAN_LEN], size_t max, size_t *n)
{
    *n = 0;
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    STACK_OF(GENERAL_NAME) *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
    bool ok = true;
    for (int i = 0; ok && sans && i < sk_GENERAL_NAME_num(sans); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (*n == max) {
            ok = false;
        } else if (g->type == GEN_DNS) {
            int len = ASN1_STRING_length(g->d.dNSName);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
            ok = len > 0 && len < TLS_SAN_LEN && !memchr(p, 0, (size_t)len);
            if (ok) snprintf(out[(*n)++], TLS_SAN_LEN, "%.*s", len, (const char *)p);
        } else if (g->type == GEN_IPADD) {
            int len = ASN1_STRING_length(g->d.iPAddress);
            const unsigned char *p = ASN1_STRING_get0_data(g->d.iPAddress);
            ok = (len == 4 || len == 16) && inet_ntop(len == 4 ? AF_INET : AF_INET6, p, out[*n], TLS_SAN_LEN);
            if (ok) (*n)++;
        } else {
            ok = false;
        }
    }
    GENERAL_NAMES_free(sans);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return ok;
}

/* An address as 16 bytes (IPv4 as IPv4-mapped IPv6). */
static bool address_bytes(const char *text, unsigned char out[16])
{
    unsigned char v4[4];
    if (inet_pton(AF_INET, text, v4) == 1) {
        memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        memcpy(out + 12, v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, text, out) == 1;
}

/* name and other are the same address, or (both not addresses) the same
 * name, case aside. */
static bool same_name(const char *name, const char *other)
{
    unsigned char a[16], b[16];
    bool ia = address_bytes(name, a), ib = address_bytes(other, b);
    if (ia || ib) return ia && ib && !memcmp(a, b, 16);
    return !strcasecmp(name, other);
}

bool tls_sans_allowed(char names[][TLS_SAN_LEN], size_t n, const char *node, const char *peer, const json_t *allowed,
                      char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        bool ok = !strcmp(name, node) || (peer && *peer && same_name(name, peer));
        size_t k;
        json_t *e;
        json_array_foreach(allowed, k, e)
        {
            if (ok) break;
            const char *a = json_string_value(e);
            ok = a && same_name(name, a);
        }
        unsigned char b[16];
        if (!ok && !address_bytes(name, b)) {
            snprintf(why, whylen, "the certificate request names the host %s: a node's certificate names no host "
                                  "but the node's own name (%s) and addresses", name, node);
            return false;
        }
        if (!ok) {
            snprintf(why, whylen,
                     "the certificate request names %s, which this node cannot prove: it called from %s; a node "
                     "gets its name, the address it joins from, and the addresses its join token lists (make one "
                     "with `qyv cluster token create --node-address %s`)",
                     name, peer && *peer ? peer : "an unknown address", name);
            return false;
        }
    }
    return true;
}

bool tls_san_valid(const char *name)
{
    unsigned char b[16];
    return address_bytes(name, b);
}

json_t *tls_sans_json(char names[][TLS_SAN_LEN], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) json_array_append_new(a, json_string(names[i]));
    return a;
}
