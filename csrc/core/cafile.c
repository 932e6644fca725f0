#include "cafile.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

const char *sbx_ca_file_override(void)
{
    const char *env = getenv("SSL_CERT_FILE");
    return env && *env ? env : NULL;
}

const char *sbx_ca_file(char *buf, size_t cap)
{
    const char *path = sbx_ca_file_override();
    if (path) return path;
    /* a new handle's CAINFO is the built-in default; the handle owns the string */
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    char *builtin = NULL;
    int fits = curl_easy_getinfo(e, CURLINFO_CAINFO, &builtin) == CURLE_OK && builtin &&
               snprintf(buf, cap, "%s", builtin) < (int)cap;
    curl_easy_cleanup(e);
    return fits ? buf : NULL;
}
