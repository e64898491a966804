/* tools/cxrgen.h: what the files of the cxrgen command share.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <cxr.h>

enum {
  EXIT_OK = 0,
  EXIT_RUN_FAILED = 1,
  EXIT_USAGE = 2,
  EXIT_UNKNOWN_TYPE = 3,
  EXIT_CANCELLED = 130,
};

void print_error (const GError *error);
gboolean parse_options (GOptionContext *context, gint *argc, gchar ***argv);

/* tools/cxrgen-model.c */
int command_model (gint argc, gchar **argv);
CxrModel *open_model (const gchar *type, const gchar *model_dir, const gchar *config, const gchar *weights,
                      gchar **sets, gboolean random_ok, int *status);
