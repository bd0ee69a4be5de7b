/* methods-wkd.c — keys.locate: an address's OpenPGP key from its Web Key
 * Directory, now (locate.h). */
#include <glib/gi18n.h>

#include "handlers.h"
#include "locate.h"
#include "rpc/frame.h"
#include "util/addr.h"
#include "util/error.h"

/* keys.locate {address}: asks the address's Web Key Directory now (also
 * when [general] wkd = false or a miss is remembered: the user asked),
 * imports what binds the address and records it with the source "wkd".
 * Result {address, fingerprint, source: "wkd", method: "advanced" |
 * "direct", replaced: FINGERPRINT | null, looked_up_at}.  Errors: the
 * PstLocated error: PST_ERROR_POLICY nothing there, or a key for another
 * address refused; PST_ERROR_NETWORK the directory could not be asked;
 * PST_ERROR_USAGE not an address. */
JsonObject *
pst_method_keys_locate (PstCall *call, GError **error)
{
  static const char *const known[] = { "address", NULL };
  const char *text;
  g_autofree char *address = NULL;
  g_autoptr (GPtrArray) found = NULL;
  const char *one[2] = { NULL, NULL };
  PstLocated *r;
  JsonObject *o;

  if (!pst_call_check_members (call->params, known, error)
      || !pst_rpc_get_string (call->params, "address", TRUE, &text, error))
    return NULL;
  if (!(address = pst_addr_extract (text)))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE, _("'%s' is not an e-mail address"), text);
      return NULL;
    }
  one[0] = address;
  found = pst_locator_run (call->agent, one, PST_LOCATE_NOW);
  r = g_ptr_array_index (found, 0);
  if (r->fingerprint == NULL)
    {
      g_propagate_error (error, g_steal_pointer (&r->error));
      return NULL;
    }
  o = json_object_new ();
  json_object_set_string_member (o, "address", r->address);
  json_object_set_string_member (o, "fingerprint", r->fingerprint);
  json_object_set_string_member (o, "source", "wkd");
  json_object_set_string_member (o, "method", pst_wkd_method_name (r->method));
  if (r->replaced != NULL)
    json_object_set_string_member (o, "replaced", r->replaced);
  else
    json_object_set_null_member (o, "replaced");
  json_object_set_int_member (o, "looked_up_at", r->at);
  return o;
}
