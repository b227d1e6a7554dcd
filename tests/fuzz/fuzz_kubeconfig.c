/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer driver for the kubeconfig reader: any input either fails with a message or yields a
 * configuration whose invariants hold (an http(s) server, a namespace, a certificate only with
 * its key, an exec plugin whose argv starts with its command). Relative paths resolve into a
 * folder that does not exist, so no file is read unless the input names an absolute path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct mp_kube_config *cfg)
{
    const char *server = mp_kube_config_server(cfg);
    if (strncmp(server, "https://", 8) != 0 && strncmp(server, "http://", 7) != 0) {
        abort();
    }
    if (!*mp_kube_config_namespace(cfg) || !*mp_kube_config_context(cfg)) {
        abort();
    }
    if (!cfg->cert_data.len != !cfg->key_data.len || (cfg->insecure && cfg->ca_data.len)) {
        abort();
    }
    if (cfg->exec && strcmp(cfg->exec->argv[0], cfg->exec->command) != 0) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first line may name the context to select ("#context NAME"). */
    const char *text = (const char *)data;
    char *context = NULL;
    if (size > 9 && memcmp(text, "#context ", 9) == 0) {
        const char *nl = memchr(text, '\n', size);
        context = strndup(text + 9, nl ? (size_t)(nl - text) - 9 : size - 9);
    }
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, size, "/nonexistent/fuzz.yaml", context, &cfg, &err) == 0) {
        check(cfg);
        mp_kube_config_free(cfg);
    } else if (err.msg[0] == '\0' || err.code == 0) {
        abort();
    }
    free(context);
    return 0;
}
