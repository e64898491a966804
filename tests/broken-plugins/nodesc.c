/* A module that is no cxrgen plugin: it exports no descriptor. */
#include "config.h"

#include <gmodule.h>

G_MODULE_EXPORT int not_a_plugin (void);

int
not_a_plugin (void)
{
  return 42;
}
