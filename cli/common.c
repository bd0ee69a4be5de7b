#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <glib-unix.h>

#include "cli.h"
#include "util/error.h"
#include "util/text.h"

int
pst_cli_fail (const char *what, const GError *error)
{
  /* The agent's words may quote a server's reply or a message. */
  g_autofree char *why = pst_text_sanitize_line (error ? error->message : _("failed"), -1);

  fprintf (stderr, "postern: %s: %s\n", what, why);
  return error ? pst_error_exit_code (error) : PST_ERROR_FAILED;
}

void
pst_cli_report (const char *command, const char *label, const char *why)
{
  g_autofree char *safe_label = pst_cli_safe (label);
  g_autofree char *safe_why = pst_text_sanitize_line (why, -1);

  fprintf (stderr, "postern: %s: %s: %s\n", command, safe_label, safe_why);
}

int
pst_cli_usage (const char *command, const char *why)
{
  if (command)
    fprintf (stderr, "postern: %s: %s\n", command, why);
  else
    fprintf (stderr, "postern: %s: %s\n", _("unknown option"), why);
  return PST_ERROR_USAGE;
}

PstRpcClient *
pst_cli_connect (PstCli *cli, gboolean start, GError **error)
{
  g_autoptr (GError) first = NULL;
  PstRpcClient *c = pst_rpc_client_connect (cli->paths->socket_path, &first);

  if (c != NULL || !start)
    {
      if (c == NULL)
        g_propagate_error (error, g_steal_pointer (&first));
      return c;
    }
  if (!pst_cli_start_agent (cli, error))
    return NULL;
  return pst_rpc_client_connect (cli->paths->socket_path, error);
}

JsonObject *
pst_cli_call (PstCli *cli, const char *what, const char *method, JsonObject *params,
              const int *fds, guint n_fds, int *exit_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = pst_cli_connect (cli, TRUE, &error);
  JsonObject *r;

  if (client == NULL)
    {
      if (params)
        json_object_unref (params);
      *exit_out = pst_cli_fail (what, error);
      return NULL;
    }
  r = pst_rpc_client_call (client, method, params, fds, n_fds, &error);
  if (r == NULL)
    *exit_out = pst_cli_fail (what, error);
  return r;
}

void
pst_cli_print_json (JsonObject *object)
{
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL, *safe = NULL;

  json_node_set_object (node, object);
  text = json_to_string (node, TRUE);
  /* The same values, but no C1 or bidirectional control left raw for a
   * terminal to act on when the document is read there. */
  safe = pst_text_sanitize_json (text);
  printf ("%s\n", safe);
}

char *
pst_cli_format_time (gint64 t)
{
  g_autoptr (GDateTime) dt = t > 0 ? g_date_time_new_from_unix_local (t) : NULL;

  return dt ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("-");
}

gboolean
pst_cli_refuse_terminal (const char *command)
{
  if (!isatty (STDOUT_FILENO))
    return FALSE;
  pst_cli_usage (command, _("standard output is a terminal, and the message's own bytes could "
                            "drive it: give -o FILE, or pipe it (postern show displays a message)"));
  return TRUE;
}

char *
pst_cli_safe (const char *text)
{
  return pst_text_sanitize_line (text ? text : "", -1);
}

/* Terminal cells of @c, on the wide side where terminals disagree (East
 * Asian "ambiguous" letters count two): a line measured too long is only
 * cut sooner, one measured too short would be wrapped by the terminal. */
static guint
cells_of (gunichar c)
{
  /* An emoji presentation selector widens the character before it to two
   * cells in most terminals: counted here as the one it adds.  Regional
   * indicators (flags) are drawn two wide too. */
  if (c == 0xfe0f)
    return 1;
  if (c >= 0x1f1e6 && c <= 0x1f1ff)
    return 2;
  return g_unichar_iszerowidth (c) ? 0 : g_unichar_iswide_cjk (c) ? 2 : 1;
}

char *
pst_cli_column (const char *text, guint width)
{
  g_autofree char *safe = pst_cli_safe (text);
  GString *out = g_string_new (NULL);
  guint cells = 0;

  for (const char *p = safe; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      guint w = cells_of (c);

      if (cells + w > width)
        break;
      g_string_append_unichar (out, c);
      cells += w;
    }
  for (; cells < width; cells++)
    g_string_append_c (out, ' ');
  return g_string_free (out, FALSE);
}

/* The columns of the terminal behind @fd, or 0. */
static guint
terminal_columns (int fd)
{
  struct winsize ws;

  return isatty (fd) && ioctl (fd, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

guint
pst_cli_width (void)
{
  const char *columns = g_getenv ("COLUMNS");
  guint found[4] = { terminal_columns (STDOUT_FILENO), terminal_columns (STDERR_FILENO), 0, 0 };
  guint width = 0;
  guint64 n;
  int tty;

  /* Piped into a pager, the output still ends on a terminal: the one this
   * command runs on is the best guess at its width, and of several guesses
   * the narrowest is the one that cannot be wrapped by the terminal. */
  if (found[0] == 0 && (tty = open ("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC)) >= 0)
    {
      found[2] = terminal_columns (tty);
      close (tty);
    }
  if (columns != NULL && g_ascii_string_to_unsigned (columns, 10, 1, 10000, &n, NULL))
    found[3] = (guint) n;
  for (guint i = 0; i < G_N_ELEMENTS (found); i++)
    if (found[i] > 0 && (width == 0 || found[i] < width))
      width = found[i];
  return width > 0 ? width : 80;
}

char **
pst_cli_wrap (const char *text, guint width, guint tab_origin)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) line = g_string_new (NULL);
  guint cells = 0;
  gssize last_space = -1;   /* in @line: where a cut at white space can be made */
  guint cells_at_space = 0;

  width = MAX (width, 8);
  for (const char *p = text ? text : ""; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      guint w = cells_of (c);

      if (c == '\t')
        {
          /* Expanded here, to the terminal's tab stops: a tab left in would
           * move the cursor by an amount this count cannot see. */
          guint spaces = 8 - (tab_origin + cells) % 8;

          for (guint i = 0; i < spaces && cells < width; i++, cells++)
            g_string_append_c (line, ' ');
          last_space = line->len;
          cells_at_space = cells;
          continue;
        }
      if (cells + w > width)
        {
          /* At the last white space when there is one in the second half of
           * the line, else hard; the rest begins the next line. */
          if (last_space > 0 && cells_at_space > width / 2)
            {
              char *rest = g_strdup (line->str + last_space);

              g_string_truncate (line, last_space);
              g_ptr_array_add (lines, g_string_free (g_steal_pointer (&line), FALSE));
              line = g_string_new (rest);
              cells = cells - cells_at_space;
              g_free (rest);
            }
          else
            {
              g_ptr_array_add (lines, g_string_free (g_steal_pointer (&line), FALSE));
              line = g_string_new (NULL);
              cells = 0;
            }
          last_space = -1;
        }
      g_string_append_unichar (line, c);
      cells += w;
      if (c == ' ')
        {
          last_space = line->len;
          cells_at_space = cells;
        }
    }
  g_ptr_array_add (lines, g_string_free (g_steal_pointer (&line), FALSE));
  g_ptr_array_add (lines, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&lines), FALSE);
}

int
pst_cli_prompt_secret (const char *prompt)
{
  int tty = open ("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC), p[2] = { -1, -1 };
  struct termios old, quiet;
  char buf[1024];
  size_t len = 0;
  ssize_t n;

  if (tty < 0)
    return -1;
  if (tcgetattr (tty, &old) != 0)
    {
      close (tty);
      return -1;
    }
  /* Echo off before the prompt is shown, and nothing flushed: input typed
   * (or pasted) as soon as the prompt appears was thrown away by a
   * TCSAFLUSH after it, and the read then waited for ever. */
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t) ECHO;
  quiet.c_lflag |= ECHONL;
  tcsetattr (tty, TCSANOW, &quiet);
  if (write (tty, prompt, strlen (prompt)) < 0)
    {
      tcsetattr (tty, TCSANOW, &old);
      close (tty);
      return -1;
    }
  while (len < sizeof buf && (n = read (tty, buf + len, 1)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 || buf[len] == '\n')
        break;
      len++;
    }
  tcsetattr (tty, TCSANOW, &old);
  close (tty);
  if (len > 0 && g_unix_open_pipe (p, FD_CLOEXEC, NULL))
    {
      if (write (p[1], buf, len) != (ssize_t) len)
        {
          close (p[0]);
          p[0] = -1;
        }
      close (p[1]);
    }
  explicit_bzero (buf, sizeof buf);
  return p[0];
}
