/* no_magic.c — a shared object that is not a connectord driver at all. */
#include <connectord/plugin.h>

CD_EXPORT int some_function(void);
CD_EXPORT int some_function(void) { return 42; }
