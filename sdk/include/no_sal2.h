#include <sal.h>
