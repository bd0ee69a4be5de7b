/* dispatch.c — the command tables run and explained.  A group runs the
 * subcommand named next; a command parses its options, with the --json
 * and -h/--help that every command takes, before it does anything, so
 * that its help is printed from its table entry and its options without
 * the agent being started or asked. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/error.h"

/* The widest first column a row of help keeps its text beside; a longer
 * left side gets a line of its own. */
#define MAX_COLUMN 28

static gboolean
is_help (const char *arg)
{
  return strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0;
}

/* "  LEFT  TEXT": @left padded to @column cells, @text (translated already)
 * wrapped to the terminal's width, its later lines under its first. */
static void
print_row (FILE *out, const char *left, guint column, const char *text)
{
  guint width = pst_cli_width ();
  guint indent = 2 + column + 2;
  guint cells = (guint) g_utf8_strlen (left, -1);
  g_auto (GStrv) lines = pst_cli_wrap (text, width > indent + 20 ? width - indent : 20, indent);

  if (cells > column)
    {
      fprintf (out, "  %s\n", left);
      left = "";
      cells = 0;
    }
  for (guint i = 0; lines[i] != NULL; i++)
    {
      fprintf (out, "  %s%*s  %s\n", left, (int) (column - cells), "", g_strchomp (lines[i]));
      left = "";
      cells = 0;
    }
}

void
pst_cli_print_paragraph (FILE *out, const char *text)
{
  g_auto (GStrv) lines = pst_cli_wrap (text, pst_cli_width (), 0);

  for (guint i = 0; lines[i] != NULL; i++)
    fprintf (out, "%s\n", g_strchomp (lines[i]));
}

/* "[GROUP ]NAME[ ARGS]".  Transfer full. */
static char *
synopsis (const char *group, const PstCliCmd *cmd)
{
  GString *s = g_string_new (NULL);

  if (group != NULL)
    g_string_append_printf (s, "%s ", group);
  g_string_append (s, cmd->name);
  if (cmd->args != NULL)
    g_string_append_printf (s, " %s", cmd->args);
  return g_string_free (s, FALSE);
}

static guint
column_for (GPtrArray *lefts)
{
  guint column = 0;

  for (guint i = 0; i < lefts->len; i++)
    {
      guint cells = (guint) g_utf8_strlen (g_ptr_array_index (lefts, i), -1);

      if (cells <= MAX_COLUMN)
        column = MAX (column, cells);
    }
  return column;
}

/* One row per command of @table, the commands of its groups (and of
 * theirs: `keys setup-message export`) in place of the group. */
static void
add_rows (GPtrArray *lefts, GPtrArray *helps, const char *group, const PstCliCmd *table)
{
  for (const PstCliCmd *c = table; c->name != NULL; c++)
    if (c->subs == NULL)
      {
        g_ptr_array_add (lefts, synopsis (group, c));
        g_ptr_array_add (helps, (gpointer) c->help);
      }
    else
      {
        g_autofree char *words = group ? g_strconcat (group, " ", c->name, NULL) : g_strdup (c->name);

        add_rows (lefts, helps, words, c->subs);
      }
}

void
pst_cli_print_commands (FILE *out, const PstCliCmd *table)
{
  g_autoptr (GPtrArray) lefts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) helps = g_ptr_array_new ();
  guint column;

  add_rows (lefts, helps, NULL, table);
  column = column_for (lefts);
  for (guint i = 0; i < lefts->len; i++)
    print_row (out, g_ptr_array_index (lefts, i), column, _(g_ptr_array_index (helps, i)));
}

/* The help of a group: what it does and its subcommands. */
static void
print_group_help (FILE *out, PstCli *cli)
{
  const PstCliCmd *dflt = NULL;
  g_autoptr (GPtrArray) lefts = g_ptr_array_new_with_free_func (g_free);
  guint column, i = 0;

  for (const PstCliCmd *s = cli->cmd->subs; s->name != NULL; s++)
    {
      g_ptr_array_add (lefts, synopsis (NULL, s));
      if (s->is_default)
        dflt = s;
    }
  /* The words of a synopsis are not translated, as a command's arguments
   * (NAME, FILE) and the man page's are not. */
  fprintf (out, "%s postern %s %s [OPTION…] [ARGS]\n", _("Usage:"), cli->path,
           dflt ? "[SUBCOMMAND]" : "SUBCOMMAND");
  pst_cli_print_paragraph (out, _(cli->cmd->help));
  fprintf (out, "\n%s\n", _("Subcommands:"));
  column = column_for (lefts);
  for (const PstCliCmd *s = cli->cmd->subs; s->name != NULL; s++, i++)
    print_row (out, g_ptr_array_index (lefts, i), column, _(s->help));
  fprintf (out, "\n");
  if (dflt != NULL)
    {
      /* TRANSLATORS: "Without a subcommand: postern quarantine list." */
      fprintf (out, _("Without a subcommand: postern %s %s.\n"), cli->path, dflt->name);
    }
  /* TRANSLATORS: "… postern account SUBCOMMAND --help"; SUBCOMMAND stays
   * in English, as in the "Usage:" line above. */
  fprintf (out, _("The options of each: postern %s SUBCOMMAND --help\n"), cli->path);
}

/* The help of a command: its synopsis, what it does, its options. */
static void
print_command_help (FILE *out, PstCli *cli, const GOptionEntry *entries,
                    const GOptionEntry *common)
{
  const GOptionEntry *sets[] = { entries, common };
  g_autoptr (GPtrArray) lefts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) helps = g_ptr_array_new ();
  guint column;

  fprintf (out, "%s postern %s [OPTION…]%s%s\n", _("Usage:"), cli->path,
           cli->cmd->args ? " " : "", cli->cmd->args ? cli->cmd->args : "");
  pst_cli_print_paragraph (out, _(cli->cmd->help));
  fprintf (out, "\n%s\n", _("Options:"));
  for (guint s = 0; s < G_N_ELEMENTS (sets); s++)
    for (const GOptionEntry *e = sets[s]; e->long_name != NULL; e++)
      {
        GString *left;

        if (e->flags & G_OPTION_FLAG_HIDDEN)
          continue;
        left = g_string_new (NULL);
        if (e->short_name)
          g_string_append_printf (left, "-%c, ", e->short_name);
        else
          g_string_append (left, "    ");
        g_string_append_printf (left, "--%s", e->long_name);
        if (e->arg != G_OPTION_ARG_NONE)
          g_string_append_printf (left, (e->flags & G_OPTION_FLAG_OPTIONAL_ARG) ? "[=%s]" : "=%s",
                                  e->arg_description ? e->arg_description : "VALUE");
        g_ptr_array_add (lefts, g_string_free (left, FALSE));
        g_ptr_array_add (helps, (gpointer) e->description);
      }
  column = column_for (lefts);
  for (guint i = 0; i < lefts->len; i++)
    print_row (out, g_ptr_array_index (lefts, i), column, _(g_ptr_array_index (helps, i)));
}

gboolean
pst_cli_parse (PstCli *cli, GOptionEntry *entries, int *argc, char ***argv, int *exit_out)
{
  gboolean help = FALSE;
  GOptionEntry common[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &cli->json,
      N_("Print the result as JSON (as postern --json COMMAND does)"), NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &help, N_("Show this help and exit"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;

  /* Our own help: GOption's would name the program after argv[0], the
   * subcommand, and exit from inside the parser. */
  g_option_context_set_help_enabled (ctx, FALSE);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (ctx, common, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      *exit_out = pst_cli_usage (cli->path, error->message);
      return FALSE;
    }
  if (help)
    {
      print_command_help (stdout, cli, entries, common);
      *exit_out = 0;
      return FALSE;
    }
  /* GOption leaves the "--" that ended the options (`account show --
   * --help` names an account "--help"): the first one left is it. */
  for (int i = 1; i < *argc; i++)
    if (strcmp ((*argv)[i], "--") == 0)
      {
        memmove (*argv + i, *argv + i + 1, (gsize) (*argc - i) * sizeof (char *));
        (*argc)--;
        break;
      }
  return TRUE;
}

/* The usage error of a group whose subcommand is missing or unknown. */
static int
group_usage (PstCli *cli, const char *word)
{
  g_autoptr (GString) names = g_string_new (NULL);
  g_autofree char *why = NULL;

  for (const PstCliCmd *s = cli->cmd->subs; s->name != NULL; s++)
    g_string_append_printf (names, "%s%s", names->len ? ", " : "", s->name);
  if (word == NULL)
    /* TRANSLATORS: "name a subcommand: list, retry, cancel (see postern outbox --help)" */
    why = g_strdup_printf (_("name a subcommand: %s (see postern %s --help)"), names->str,
                           cli->path);
  else
    {
      g_autofree char *safe = pst_cli_safe (word);

      /* TRANSLATORS: "frob: unknown subcommand; say list, retry or cancel (see …)" */
      why = g_strdup_printf (_("%s: unknown subcommand; it is one of %s (see postern %s --help)"),
                             safe, names->str, cli->path);
    }
  return pst_cli_usage (cli->path, why);
}

int
pst_cli_run (PstCli *cli, const PstCliCmd *cmd, int argc, char **argv)
{
  const PstCliCmd *sub = NULL, *dflt = NULL;
  g_autofree char **sub_argv = NULL;
  char *path = cli->path ? g_strconcat (cli->path, " ", cmd->name, NULL) : g_strdup (cmd->name);
  int i = 1, n;

  g_free (cli->path);
  cli->path = path;
  cli->cmd = cmd;
  if (cmd->func != NULL)
    return cmd->func (cli, argc, argv);

  for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++)
    {
      if (is_help (argv[i]))
        {
          print_group_help (stdout, cli);
          return 0;
        }
      if (strcmp (argv[i], "--json") != 0)
        break;
      cli->json = TRUE;
    }
  for (const PstCliCmd *s = cmd->subs; s->name != NULL; s++)
    {
      if (i < argc && strcmp (argv[i], s->name) == 0)
        sub = s;
      if (s->is_default)
        dflt = s;
    }
  if (sub == NULL && i < argc && argv[i][0] != '-')
    return group_usage (cli, argv[i]);
  if (sub == NULL && dflt == NULL)
    return i < argc ? pst_cli_usage (NULL, argv[i]) : group_usage (cli, NULL);
  /* The subcommand's argv: its name, then what follows the name (or, for
   * the default one, all that is left: its options). */
  n = sub != NULL ? argc - i : argc - i + 1;
  sub_argv = g_new0 (char *, n + 1);
  sub_argv[0] = (char *) (sub != NULL ? sub : dflt)->name;
  memcpy (sub_argv + 1, argv + (sub != NULL ? i + 1 : i), (gsize) (n - 1) * sizeof (char *));
  return pst_cli_run (cli, sub != NULL ? sub : dflt, n, sub_argv);
}
