// The WDK splits the driver annotations out of sal.h; here they live together.
#include <sal.h>
