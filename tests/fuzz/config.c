/* The settings the server's objects read, for the harnesses that link them (zero: defaults). */
#include "anemosd.h"

struct config cfg;
