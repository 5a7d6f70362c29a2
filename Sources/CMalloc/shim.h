#ifndef KEMU_MALLOC_SHIM_H
#define KEMU_MALLOC_SHIM_H
// glibc's malloc tuning (mallopt), which the Glibc module does not export.
#include <malloc.h>
#endif
