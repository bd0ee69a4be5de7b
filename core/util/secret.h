/* secret.h — bytes that are wiped before their memory is freed: decrypted
 * text, passwords, key material (STYLE.md: secrets are wiped). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A copy of @len bytes at @data followed by @tail_len bytes at @tail (may be
 * NULL when 0), NUL-terminated past the end, wiped when the last reference
 * goes.  Transfer full. */
GBytes *pst_secret_bytes_new (const void *data, gsize len, const void *tail, gsize tail_len);

/* The contents of @s as secret bytes, without a copy: they take @s, which
 * is wiped and freed when their last reference goes.  Transfer full. */
GBytes *pst_secret_bytes_from_gstring (GString *s);

/* Wipes the string @secret (to its NUL) and frees it; NULL is nothing. */
void pst_secret_free (char *secret);
/* Wipes @len bytes at @data and frees them; NULL is nothing. */
void pst_secret_free_len (gpointer data, gsize len);
/* Wipes the bytes of @array and empties it (it stays usable); NULL is
 * nothing. */
void pst_secret_byte_array_clear (GByteArray *array);

G_END_DECLS
