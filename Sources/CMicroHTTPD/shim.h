#ifndef KEMU_MHD_SHIM_H
#define KEMU_MHD_SHIM_H
// POSIX headers must precede microhttpd.h.
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>
#endif
