#include "crypto/autocrypt.h"

#include <string.h>

#include "util/error.h"

void
pst_autocrypt_header_free (PstAutocryptHeader *header)
{
  if (header == NULL)
    return;
  g_free (header->addr);
  g_clear_pointer (&header->keydata, g_bytes_unref);
  g_free (header);
}

/* @text without its folding and other white space, as base64: NULL
 * unless every other character is of the base64 alphabet and the padding
 * is right.  Transfer full. */
static GBytes *
decode_keydata (const char *text, GError **error)
{
  g_autoptr (GString) clean = g_string_new (NULL);
  gsize len = 0;
  guchar *data;

  for (const char *p = text; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p))
        continue;
      if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "keydata is not base64");
          return NULL;
        }
      g_string_append_c (clean, *p);
    }
  if (clean->len == 0 || clean->len % 4 != 0
      || (strchr (clean->str, '=') != NULL && strchr (clean->str, '=') < clean->str + clean->len - 2))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "keydata is not base64");
      return NULL;
    }
  if (clean->len / 4 * 3 > PST_AUTOCRYPT_MAX_KEYDATA)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "keydata is larger than %d bytes",
                   PST_AUTOCRYPT_MAX_KEYDATA);
      return NULL;
    }
  data = g_base64_decode (clean->str, &len);
  return g_bytes_new_take (data, len);
}

PstAutocryptHeader *
pst_autocrypt_header_parse (const char *value, GError **error)
{
  g_auto (GStrv) attrs = g_strsplit (value, ";", -1);
  g_autoptr (PstAutocryptHeader) h = g_new0 (PstAutocryptHeader, 1);
  gboolean seen_prefer = FALSE;

  for (char **a = attrs; *a != NULL; a++)
    {
      char *eq;
      g_autofree char *name = NULL;
      const char *v;

      if (g_strstrip (*a)[0] == '\0')
        continue;
      eq = strchr (*a, '=');
      if (eq == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "attribute without a value");
          return NULL;
        }
      name = g_strstrip (g_strndup (*a, (gsize) (eq - *a)));
      v = eq + 1;
      while (g_ascii_isspace (*v))
        v++;
      if (g_ascii_strcasecmp (name, "addr") == 0 && h->addr == NULL)
        {
          g_autofree char *addr = g_strstrip (g_strdup (v));

          if (strchr (addr, '@') == NULL || strpbrk (addr, " \t\r\n<>,") != NULL)
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "addr is not an address");
              return NULL;
            }
          h->addr = g_steal_pointer (&addr);
        }
      else if (g_ascii_strcasecmp (name, "prefer-encrypt") == 0 && !seen_prefer)
        {
          g_autofree char *pe = g_strstrip (g_strdup (v));

          seen_prefer = TRUE;
          h->mutual = g_ascii_strcasecmp (pe, "mutual") == 0;
        }
      else if (g_ascii_strcasecmp (name, "keydata") == 0 && h->keydata == NULL)
        {
          if (!(h->keydata = decode_keydata (v, error)))
            return NULL;
        }
      else if (g_ascii_strcasecmp (name, "type") == 0)
        {
          g_autofree char *t = g_strstrip (g_strdup (v));

          if (!g_str_equal (t, "1"))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "unknown key type %s", t);
              return NULL;
            }
        }
      else if (name[0] != '_')
        {
          /* A critical attribute we do not know (or a repeated one). */
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "unknown critical attribute %s",
                       name);
          return NULL;
        }
    }
  if (h->addr == NULL || h->keydata == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "%s",
                   h->addr == NULL ? "no addr attribute" : "no keydata attribute");
      return NULL;
    }
  return g_steal_pointer (&h);
}

char *
pst_autocrypt_header_format (const char *addr, gboolean mutual, GBytes *keydata, gboolean gossip)
{
  gsize len = 0;
  const guchar *data = g_bytes_get_data (keydata, &len);
  g_autofree char *b64 = g_base64_encode (data, len);
  GString *s = g_string_new (NULL);
  gsize b64_len = strlen (b64);

  g_string_append_printf (s, "addr=%s;", addr);
  if (!gossip && mutual)
    g_string_append (s, " prefer-encrypt=mutual;");
  g_string_append (s, " keydata=");
  /* Folded: every line after the first is a space and 76 characters. */
  for (gsize off = 0; off < b64_len; off += 76)
    {
      g_string_append (s, "\r\n ");
      g_string_append_len (s, b64 + off, (gssize) MIN (76, b64_len - off));
    }
  return g_string_free (s, FALSE);
}

/* Autocrypt compares addresses without regard to case (its state is kept
 * by the lower-cased address), where pst_addr_equal keeps the local
 * part's case. */
static gboolean
addr_same (const char *a, const char *b)
{
  return a != NULL && b != NULL && g_ascii_strcasecmp (a, b) == 0;
}

static gboolean
addr_among (const char *a, const char *const *list)
{
  for (; list != NULL && *list != NULL; list++)
    if (addr_same (a, *list))
      return TRUE;
  return FALSE;
}

static PstAutocryptPeer *
peer_copy (const PstAutocryptPeer *peer, const char *addr)
{
  PstAutocryptPeer *p = g_new0 (PstAutocryptPeer, 1);

  if (peer != NULL)
    {
      p->last_seen = peer->last_seen;
      p->autocrypt_timestamp = peer->autocrypt_timestamp;
      p->fingerprint = g_strdup (peer->fingerprint);
      p->keydata = peer->keydata ? g_bytes_ref (peer->keydata) : NULL;
      p->mutual = peer->mutual;
      p->gossip_timestamp = peer->gossip_timestamp;
      p->gossip_fingerprint = g_strdup (peer->gossip_fingerprint);
      p->gossip_keydata = peer->gossip_keydata ? g_bytes_ref (peer->gossip_keydata) : NULL;
    }
  p->addr = g_ascii_strdown (addr, -1);
  return p;
}

/* The message's effective date: its Date, unless that is in the future
 * (or absent): then now. */
static gint64
effective_date (gint64 date, gint64 now)
{
  return date <= 0 || date > now ? now : date;
}

PstAutocryptUpdate
pst_autocrypt_update (const PstAutocryptPeer *peer, const PstAutocryptMessage *msg, gint64 now,
                      PstAutocryptPeer **peer_out, PstAutocryptHeader **header_out,
                      const char **why_out)
{
  g_autoptr (PstAutocryptHeader) taken = NULL;
  const char *why = NULL;
  guint valid = 0;
  gint64 date;
  PstAutocryptPeer *p;

  *peer_out = NULL;
  if (header_out != NULL)
    *header_out = NULL;
  if (why_out != NULL)
    *why_out = NULL;
  if (msg->report)
    {
      if (why_out != NULL)
        *why_out = "a delivery report";
      return PST_AUTOCRYPT_IGNORED;
    }
  if (msg->from == NULL)
    {
      if (why_out != NULL)
        *why_out = "no single From address";
      return PST_AUTOCRYPT_IGNORED;
    }
  /* The valid headers: parse, and addr equal to From. */
  for (const char *const *h = msg->headers; h != NULL && *h != NULL; h++)
    {
      g_autoptr (PstAutocryptHeader) parsed = pst_autocrypt_header_parse (*h, NULL);

      if (parsed == NULL)
        {
          why = "an Autocrypt header that does not parse";
          continue;
        }
      if (!addr_same (parsed->addr, msg->from))
        {
          why = "an Autocrypt header whose addr is not the From address";
          continue;
        }
      valid++;
      g_clear_pointer (&taken, pst_autocrypt_header_free);
      taken = g_steal_pointer (&parsed);
    }
  if (valid > 1)
    {
      /* Level 1 §2.3: more than one is as none. */
      g_clear_pointer (&taken, pst_autocrypt_header_free);
      why = "several Autocrypt headers for the From address";
    }
  date = effective_date (msg->date, now);
  if (peer != NULL && date < peer->autocrypt_timestamp)
    {
      if (why_out != NULL)
        *why_out = "older than the last Autocrypt header seen";
      return PST_AUTOCRYPT_IGNORED;
    }
  p = peer_copy (peer, msg->from);
  if (date > p->last_seen)
    p->last_seen = date;
  *peer_out = p;
  if (why_out != NULL)
    *why_out = why;
  if (taken == NULL)
    return PST_AUTOCRYPT_SEEN;
  p->autocrypt_timestamp = date;
  p->mutual = taken->mutual;
  g_clear_pointer (&p->keydata, g_bytes_unref);
  p->keydata = g_bytes_ref (taken->keydata);
  /* The fingerprint is the caller's to set, once the key is read. */
  g_clear_pointer (&p->fingerprint, g_free);
  if (header_out != NULL)
    *header_out = g_steal_pointer (&taken);
  return PST_AUTOCRYPT_KEY;
}

PstAutocryptPeer *
pst_autocrypt_gossip (const PstAutocryptPeer *peer, const char *value, gint64 date,
                      const char *const *recipients, gint64 now, PstAutocryptHeader **header_out,
                      const char **why_out)
{
  g_autoptr (PstAutocryptHeader) h = pst_autocrypt_header_parse (value, NULL);
  PstAutocryptPeer *p;

  *header_out = NULL;
  if (why_out != NULL)
    *why_out = NULL;
  if (h == NULL)
    {
      if (why_out != NULL)
        *why_out = "an Autocrypt-Gossip header that does not parse";
      return NULL;
    }
  if (!addr_among (h->addr, recipients))
    {
      if (why_out != NULL)
        *why_out = "gossip about an address that is no recipient";
      return NULL;
    }
  date = effective_date (date, now);
  if (peer != NULL && date <= peer->gossip_timestamp)
    {
      if (why_out != NULL)
        *why_out = "no newer than the gossip known";
      return NULL;
    }
  p = peer_copy (peer, h->addr);
  p->gossip_timestamp = date;
  g_clear_pointer (&p->gossip_keydata, g_bytes_unref);
  p->gossip_keydata = g_bytes_ref (h->keydata);
  g_clear_pointer (&p->gossip_fingerprint, g_free);
  *header_out = g_steal_pointer (&h);
  return p;
}

PstAutocryptRecommendation
pst_autocrypt_recommend (const PstAutocryptPeer *peer, gboolean key_usable, gboolean own_mutual,
                         gboolean reply_to_encrypted)
{
  PstAutocryptRecommendation pre;

  if (peer == NULL || !key_usable || (peer->fingerprint == NULL && peer->gossip_fingerprint == NULL))
    return PST_AUTOCRYPT_DISABLE;
  if (peer->fingerprint == NULL)
    pre = PST_AUTOCRYPT_DISCOURAGE;   /* gossip only */
  else if (peer->autocrypt_timestamp < peer->last_seen - PST_AUTOCRYPT_STALE_SECONDS)
    pre = PST_AUTOCRYPT_DISCOURAGE;
  else
    pre = PST_AUTOCRYPT_AVAILABLE;
  if (reply_to_encrypted)
    return PST_AUTOCRYPT_ENCRYPT;
  if (pre == PST_AUTOCRYPT_AVAILABLE && peer->mutual && own_mutual)
    return PST_AUTOCRYPT_ENCRYPT;
  return pre;
}

PstAutocryptRecommendation
pst_autocrypt_combine (const PstAutocryptRecommendation *each, guint n)
{
  gboolean all_encrypt = TRUE, any_discourage = FALSE;

  for (guint i = 0; i < n; i++)
    {
      if (each[i] == PST_AUTOCRYPT_DISABLE)
        return PST_AUTOCRYPT_DISABLE;
      all_encrypt = all_encrypt && each[i] == PST_AUTOCRYPT_ENCRYPT;
      any_discourage = any_discourage || each[i] == PST_AUTOCRYPT_DISCOURAGE;
    }
  if (all_encrypt)
    return PST_AUTOCRYPT_ENCRYPT;
  return any_discourage ? PST_AUTOCRYPT_DISCOURAGE : PST_AUTOCRYPT_AVAILABLE;
}

const char *
pst_autocrypt_recommendation_to_string (PstAutocryptRecommendation r)
{
  static const char *const names[] = { "disable", "discourage", "available", "encrypt" };

  return (guint) r < G_N_ELEMENTS (names) ? names[r] : "disable";
}
