/* error.h — the one error domain of Postern.
 *
 * Every function that can fail takes a GError ** last and sets it in the
 * PST_ERROR domain.  The codes map one to one onto the exit codes of the CLI
 * (DESIGN.md §6), so an error can travel from the agent over the socket and
 * become the right exit status without translation tables.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PST_ERROR (pst_error_quark ())

typedef enum {
  PST_ERROR_FAILED = 1,     /* generic failure, unknown id, bad input */
  PST_ERROR_USAGE = 2,      /* bad command line or bad parameters */
  PST_ERROR_POLICY = 3,     /* refused by policy: no key, encrypt=always, limits */
  PST_ERROR_CRYPTO = 4,     /* bad signature, decryption failed */
  PST_ERROR_NETWORK = 5,    /* network, TLS or authentication failure */
  PST_ERROR_AGENT = 6,      /* agent unreachable */
  PST_ERROR_INFECTED = 7,   /* the scanner found malware */
} PstErrorCode;

GQuark pst_error_quark (void);

/* The exit status for @error: its code when it is in PST_ERROR, else 1.
 * NULL gives 0. */
int pst_error_exit_code (const GError *error);

/* Prefixes @error's message with "WHAT: " (printf-style) unless it is NULL. */
void pst_error_prefix (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
