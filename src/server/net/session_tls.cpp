// The HTTPS half of session.cpp: Session<TlsStream> and StartTlsSession (see the end of
// session.cpp). A separate object only to halve the longest compile of the build.
#define OXIDE_SESSION_TLS 1
#include "server/net/session.cpp"  // NOLINT(bugprone-suspicious-include)
