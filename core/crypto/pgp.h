/* pgp.h — OpenPGP through GPGME.  The only file that includes gpgme.h is
 * pgp.c.  Private keys stay in gpg-agent.
 *
 * A PstPgp is a GPGME context: use one per thread.
 */
#pragma once

#include <glib.h>
#include "crypto/status.h"

G_BEGIN_DECLS

typedef struct _PstPgp PstPgp;

/* Opens a context on @gnupg_home (NULL: $GNUPGHOME or ~/.gnupg).  Transfer full. */
PstPgp *pst_pgp_new (const char *gnupg_home, GError **error);
void pst_pgp_free (PstPgp *pgp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstPgp, pst_pgp_free)

/* The rest of the API (key lookup, encrypt, sign, decrypt, verify) is used by
 * pgpmime.c; see below. */
