/* Names and limits both sides of the sbx protocol agree on (docs/PROTOCOL.md). */
#ifndef SBX_PROTOCOL_H
#define SBX_PROTOCOL_H

#define SBX_VERSION "0.1.0"

#define SBX_EV_START  "start"
#define SBX_EV_STDOUT "stdout"
#define SBX_EV_STDERR "stderr"
#define SBX_EV_END    "end"

#define SBX_ERR_INVALID   "InvalidArgumentError"
#define SBX_ERR_AUTH      "AuthenticationError"
#define SBX_ERR_NOT_FOUND "NotFoundError"
#define SBX_ERR_CONFLICT  "ConflictError"
#define SBX_ERR_SANDBOX   "SandboxError"

#define SBX_DEFAULT_MAX_BODY   (16u * 1024u * 1024u)
#define SBX_DEFAULT_KEEPALIVE  15.0
#define SBX_DEFAULT_LIFETIME   300.0
#define SBX_ID_PREFIX          "sbx_"

#endif
