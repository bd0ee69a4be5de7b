/* cli.h — what the commands of `postern` share. */
#pragma once

#include <glib.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "config/paths.h"
#include "rpc/client.h"

G_BEGIN_DECLS

typedef struct {
  const char *home;     /* --home or NULL */
  gboolean json;        /* --json */
  PstPaths *paths;
} PstCli;

typedef int (*PstCliCommand) (PstCli *cli, int argc, char **argv);

/* Prints "postern: WHAT: WHY" on stderr and returns the exit code of @error. */
int pst_cli_fail (const char *what, const GError *error);
/* Prints a usage error for @command and returns 2. */
int pst_cli_usage (const char *command, const char *why);

/* Parses @argv with @entries; on error prints it and returns FALSE. */
gboolean pst_cli_parse (const char *command, const char *params, GOptionEntry *entries,
                        int *argc, char ***argv);

/* Connects to the agent, starting it when it is not running and @start. */
PstRpcClient *pst_cli_connect (PstCli *cli, gboolean start, GError **error);

/* Calls @method; prints the error and sets @exit_out on failure. */
JsonObject *pst_cli_call (PstCli *cli, const char *what, const char *method, JsonObject *params,
                          const int *fds, guint n_fds, int *exit_out);

/* Unix time @t as local "YYYY-MM-DD HH:MM", or "-" for 0.  Transfer full. */
char *pst_cli_format_time (gint64 t);

/* Prints @object as one JSON document on stdout (C1 and bidirectional
 * controls in its strings written as \u escapes: pst_text_sanitize_json). */
void pst_cli_print_json (JsonObject *object);

/* What export, decrypt and attachment write is data for programs and is
 * written as it is, byte for byte.  On a terminal those bytes would be
 * acted on (a message's escape sequences, an attachment's binary), and
 * sanitised they would no longer be the message: so when standard output
 * is a terminal these commands refuse, as curl does with binary output,
 * and say how to get it.  Prints the refusal and returns TRUE then. */
gboolean pst_cli_refuse_terminal (const char *command);

/* Text output takes every string that came from a message, a key, a
 * certificate or a server through these (core/util/text.h), so that none
 * of it reaches the terminal as control: a sender must not be able to move
 * the cursor over the status block, retitle the window or turn a file name
 * around.  Strings Postern writes itself (labels, states, numbers) need not.
 *
 * @text on one line, controls made visible; NULL gives "".  Transfer full. */
char *pst_cli_safe (const char *text);
/* pst_cli_safe (@text) cut or padded with spaces to exactly @width terminal
 * columns (wide characters count two), never cut inside a character.
 * Transfer full. */
char *pst_cli_column (const char *text, guint width);

/* The width to lay text out in: the terminal's columns when standard output
 * is one, else $COLUMNS, else 80. */
guint pst_cli_width (void);

/* @text (already made safe: no control but tab) cut into lines of at most
 * @width terminal cells each, at white space where it can, with tabs
 * expanded to the stops of a terminal on which the text begins at column
 * @tab_origin.  Laid out by us, a line of a message never reaches the
 * terminal's own wrapping, which would start its rest at the left margin,
 * where only Postern's lines begin.  NULL-terminated, at least one line
 * (maybe empty).  Transfer full. */
char **pst_cli_wrap (const char *text, guint width, guint tab_origin);

/* Agent control (agent.c). */
int pst_cli_cmd_agent (PstCli *cli, int argc, char **argv);
gboolean pst_cli_start_agent (PstCli *cli, GError **error);

/* Commands (account.c, mail.c). */
int pst_cli_cmd_account (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_send (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_fetch (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_list (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_show (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_export (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_attachment (PstCli *cli, int argc, char **argv);
/* The settings of send and keys check (--account, --encrypt, --scheme,
 * --sign, --no-sign) into @params; FALSE (a usage error printed) when they
 * contradict each other or --encrypt is no mode. */
gboolean pst_cli_send_settings (const char *command, JsonObject *params, const char *account,
                                const char *encrypt, const char *scheme, gboolean sign,
                                gboolean no_sign);
int pst_cli_cmd_keys (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_encrypt (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_decrypt (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_verify (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_batch (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_outbox (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_watch (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_scan (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_quarantine (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_config (PstCli *cli, int argc, char **argv);

G_END_DECLS
