#include "util/secret.h"

#include <string.h>

typedef struct {
  gsize len;
  char data[];
} SecretBuf;

static void
secret_buf_free (gpointer p)
{
  SecretBuf *sb = p;

  explicit_bzero (sb->data, sb->len);
  g_free (sb);
}

GBytes *
pst_secret_bytes_new (const void *data, gsize len, const void *tail, gsize tail_len)
{
  SecretBuf *sb = g_malloc (sizeof (SecretBuf) + len + tail_len + 1);

  sb->len = len + tail_len;
  if (len > 0)
    memcpy (sb->data, data, len);
  if (tail_len > 0)
    memcpy (sb->data + len, tail, tail_len);
  sb->data[sb->len] = '\0';
  return g_bytes_new_with_free_func (sb->data, sb->len, secret_buf_free, sb);
}

static void
gstring_wipe_free (gpointer p)
{
  GString *s = p;

  /* All of the buffer: a string that was cut back still holds what was
   * written past its end. */
  explicit_bzero (s->str, s->allocated_len);
  g_string_free (s, TRUE);
}

/* The string's own buffer, not a copy: a decrypted message is large, and
 * a copy would be one more of it in memory at once. */
GBytes *
pst_secret_bytes_from_gstring (GString *s)
{
  return g_bytes_new_with_free_func (s->str, s->len, gstring_wipe_free, s);
}

void
pst_secret_free (char *secret)
{
  if (secret == NULL)
    return;
  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}

void
pst_secret_free_len (gpointer data, gsize len)
{
  if (data == NULL)
    return;
  explicit_bzero (data, len);
  g_free (data);
}

void
pst_secret_byte_array_clear (GByteArray *array)
{
  if (array == NULL)
    return;
  if (array->len > 0)
    explicit_bzero (array->data, array->len);
  g_byte_array_set_size (array, 0);
}
