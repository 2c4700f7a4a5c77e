/*
 * store_etcd_tls.c — the files etcds:// stores speak TLS with (store.h:
 * store_etcd_set_tls), and how a libcurl handle is set to use them
 * (store_etcd_tls.h): etcd's certificate checked against the CA file and
 * its host name, the client certificate shown when there is one.
 */
#include <curl/curl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cluster/store.h"
#include "cluster/store_etcd_tls.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char cacert[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];

void store_etcd_set_tls(const store_etcd_tls *tls)
{
    pthread_mutex_lock(&lock);
    snprintf(cacert, sizeof cacert, "%s", tls && tls->cacert ? tls->cacert : "");
    snprintf(cert, sizeof cert, "%s", tls && tls->cert ? tls->cert : "");
    snprintf(key, sizeof key, "%s", tls && tls->key ? tls->key : "");
    pthread_mutex_unlock(&lock);
}

store_etcd_tls store_etcd_get_tls(void)
{
    /* The strings are set once, before any store opens. */
    return (store_etcd_tls){cacert, cert, key};
}

void etcd_tls_apply(void *curl)
{
    pthread_mutex_lock(&lock);
    /* libcurl copies the strings. */
    if (*cacert) curl_easy_setopt(curl, CURLOPT_CAINFO, cacert);
    if (*cert) curl_easy_setopt(curl, CURLOPT_SSLCERT, cert);
    if (*key) curl_easy_setopt(curl, CURLOPT_SSLKEY, key);
    pthread_mutex_unlock(&lock);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    /* As over plain HTTP: etcd would offer HTTP/2 through ALPN, whose
     * framing errors would hide a refused certificate. */
    curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
}

bool etcd_tls_failure(int curl_code)
{
    switch ((CURLcode)curl_code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        return true;
    default:
        return false;
    }
}

void etcd_explain(bool tls, int curl_code, const char *detail, char *out, size_t n)
{
    CURLcode rc = (CURLcode)curl_code;
    /* Cut in or right after the handshake: how etcd refuses a client
     * certificate, unless it sends an alert first. */
    bool broken = rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
                  rc == CURLE_SSL_CONNECT_ERROR;
    const char *hint = "";
    if (!tls) {
        if (rc == CURLE_GOT_NOTHING) hint = "no answer: if etcd serves TLS there, use --store etcds://... with --etcd-cacert";
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION) {
        hint = strstr(detail, "name") || strstr(detail, "subject")
                   ? "etcd's certificate does not name the host it was reached at"
                   : "etcd's certificate is not signed by the CA of --etcd-cacert";
    } else if (rc == CURLE_SSL_CACERT_BADFILE) {
        hint = "--etcd-cacert cannot be read as PEM certificates";
    } else if (rc == CURLE_SSL_CERTPROBLEM) {
        hint = "--etcd-cert or --etcd-key cannot be used";
    } else if (strstr(detail, "certificate required") || strstr(detail, "bad certificate") || strstr(detail, "unknown ca") ||
               broken) {
        hint = *cert ? "etcd likely refused this master's client certificate: is --etcd-cert signed by a CA etcd "
                       "trusts?"
                     : "etcd likely refused this master's client certificate: it asks for one (--client-cert-auth); "
                       "give --etcd-cert and --etcd-key";
    }
    if (*hint) snprintf(out, n, "%s (%s%s)", hint, tls ? "TLS: " : "", detail);
    else snprintf(out, n, "%s", detail);
}
