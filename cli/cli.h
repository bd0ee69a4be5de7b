/* cli.h — what the commands of `postern` share. */
#pragma once

#include <stdio.h>

#include <glib.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "config/paths.h"
#include "rpc/client.h"

G_BEGIN_DECLS

typedef struct _PstCliCmd PstCliCmd;

typedef struct {
  const char *home;     /* --home or NULL */
  gboolean json;        /* --json, before the command or after it */
  PstPaths *paths;
  const PstCliCmd *cmd; /* the command running (pst_cli_run): its help */
  char *path;           /* its words, "account show"; owned, freed by main */
} PstCli;

/* Runs a command: @argv[0] is its name, its options are parsed with
 * pst_cli_parse before anything else is done.  Returns the exit status. */
typedef int (*PstCliCommand) (PstCli *cli, int argc, char **argv);

/* A command or subcommand of `postern`: the dispatch tables (main.c, and
 * one per command with subcommands) are arrays of these, ended by an entry
 * whose name is NULL.  A command has @func; a group has @subs instead and
 * runs the subcommand named next, or its @is_default one when none is. */
struct _PstCliCmd {
  const char *name;
  PstCliCommand func;
  const PstCliCmd *subs;
  const char *args;     /* what follows the options in its synopsis, e.g. "NAME"; NULL for
                         * none; not translated, as the man page does not */
  const char *help;     /* one line, marked with N_() */
  gboolean is_default;
};

/* The subcommands of each group (account.c, keys.c, outbox.c, scan.c,
 * config.c, agent.c). */
extern const PstCliCmd pst_cli_account_cmds[];
extern const PstCliCmd pst_cli_keys_cmds[];
extern const PstCliCmd pst_cli_setup_message_cmds[];   /* keys setup-message (setup.c) */
extern const PstCliCmd pst_cli_outbox_cmds[];
extern const PstCliCmd pst_cli_quarantine_cmds[];
extern const PstCliCmd pst_cli_config_cmds[];
extern const PstCliCmd pst_cli_agent_cmds[];
extern const PstCliCmd pst_cli_bridge_cmds[];   /* bridge.c */
extern const PstCliCmd pst_cli_draft_cmds[];    /* drafts.c */

/* Runs @cmd with @argv (@argv[0] its name) and returns the exit status.  A
 * group takes --json and -h/--help before its subcommand's name too; its
 * help lists the subcommands.  Sets cli->cmd and adds the name to
 * cli->path. */
int pst_cli_run (PstCli *cli, const PstCliCmd *cmd, int argc, char **argv);

/* Prints one line per command of @table, and per subcommand of each group
 * in it: "account show NAME   show an account's settings". */
void pst_cli_print_commands (FILE *out, const PstCliCmd *table);

/* Prints @text (Postern's own words, translated already) on @out in lines
 * cut at white space to the width pst_cli_width() gives. */
void pst_cli_print_paragraph (FILE *out, const char *text);

/* Prints "postern: @command: @label: @why" on stderr, @label and @why made
 * safe (they may come from a file name or the agent): one message of
 * several that failed. */
void pst_cli_report (const char *command, const char *label, const char *why);
/* Prints "postern: WHAT: WHY" on stderr and returns the exit code of @error. */
int pst_cli_fail (const char *what, const GError *error);
/* Prints a usage error for @command and returns 2. */
int pst_cli_usage (const char *command, const char *why);

/* Parses the options of the command running (cli->cmd) in @argv: @entries
 * (may be empty), and the ones every command takes, --json (sets
 * cli->json) and -h/--help.  Returns TRUE when the command goes on, with
 * @argc/@argv left holding its name and its arguments.  Returns FALSE when
 * it must stop with the exit status in @exit_out: 0 after its help was
 * printed on stdout (nothing else done: no agent contacted), 2 after a
 * usage error was printed. */
gboolean pst_cli_parse (PstCli *cli, GOptionEntry *entries, int *argc, char ***argv,
                        int *exit_out);

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

/* Asks for a secret on the terminal with @prompt (translated already),
 * echo off, and returns the read end of a pipe that holds what was typed
 * (the agent reads secrets from descriptors only); -1 when there is no
 * terminal or nothing was typed.  The typed bytes are wiped. */
int pst_cli_prompt_secret (const char *prompt);

/* Starts the agent (agent.c). */
gboolean pst_cli_start_agent (PstCli *cli, GError **error);

/* Commands (mail.c, keys.c, crypto.c, batch.c, watch.c, scan.c). */
int pst_cli_cmd_send (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_fetch (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_list (PstCli *cli, int argc, char **argv);
/* delete ID…, mark ID… --read|--unread (state.c). */
int pst_cli_cmd_delete (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_mark (PstCli *cli, int argc, char **argv);
/* @text as a message id (1 or more), or a usage error of @command (mail.c). */
gboolean pst_cli_parse_id (const char *command, const char *text, gint64 *id_out);
int pst_cli_cmd_show (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_export (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_attachment (PstCli *cli, int argc, char **argv);
/* reply, forward (reply.c): drafts. */
int pst_cli_cmd_reply (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_forward (PstCli *cli, int argc, char **argv);

/* A message ID of @command's arguments (1 or more), else the usage error
 * printed and FALSE (mail.c). */
gboolean pst_cli_parse_id (const char *command, const char *text, gint64 *id_out);
/* Opens @path for @command's output: a new file only, 0600 (the content is
 * decrypted), never one that exists; -1 with the error printed. */
int pst_cli_open_new_file (const char *command, const char *path);
/* Where @command writes data for programs: a new file @out (0600, as
 * pst_cli_open_new_file), or standard output (flushed) when @out is NULL
 * and it is no terminal (pst_cli_refuse_terminal).  -1 with the refusal
 * printed and @status set (2, or 1 for the file). */
int pst_cli_output_fd (const char *command, const char *out, int *status);
/* Calls @method (for command @what, which errors name) with @params and
 * descriptor @fd as its "fd" 0; when @out (the file @fd was opened on) is
 * not NULL, closes @fd and removes @out unless the call succeeded, so that
 * nothing half written is left. */
JsonObject *pst_cli_call_to_file (PstCli *cli, const char *what, const char *method,
                                  JsonObject *params, const char *out, int fd, int *status);
/* import (import.c), and export --all (export-all.c): @mbox or @maildir, not
 * both. */
int pst_cli_cmd_import (PstCli *cli, int argc, char **argv);
int pst_cli_export_all (PstCli *cli, const char *account, const char *mbox, const char *maildir);
/* The settings of send and keys check (--account, --encrypt, --scheme,
 * --sign, --no-sign) into @params; FALSE (a usage error printed) when they
 * contradict each other or --encrypt is no mode. */
gboolean pst_cli_send_settings (const char *command, JsonObject *params, const char *account,
                                const char *encrypt, const char *scheme, gboolean sign,
                                gboolean no_sign);
/* The warnings of a send result @r on stderr, as "postern: COMMAND: …":
 * a key that replaced another, recipients it went unencrypted to. */
void pst_cli_send_warnings (const char *command, JsonObject *r);
/* sendmail (sendmail.c). */
int pst_cli_cmd_sendmail (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_encrypt (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_decrypt (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_verify (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_batch (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_watch (PstCli *cli, int argc, char **argv);
int pst_cli_cmd_scan (PstCli *cli, int argc, char **argv);

/* keys export, keys expire, keys revoke (keyops.c). */
int pst_cli_keys_export (PstCli *cli, int argc, char **argv);
int pst_cli_keys_expire (PstCli *cli, int argc, char **argv);
int pst_cli_keys_revoke (PstCli *cli, int argc, char **argv);
/* Writes @len bytes of @data to @path (0644) through a temporary file
 * renamed into place.  Errors name @path. */
gboolean pst_cli_write_file (const char *path, const char *data, gsize len, GError **error);
/* Stores @password for @account (and @user) in the Secret Service's default
 * collection, with libsecret loaded as it runs (secret-store.c). */
gboolean pst_cli_secret_store_password (const char *account, const char *user,
                                        const char *password, GError **error);

G_END_DECLS
