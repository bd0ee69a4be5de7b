/* text.h — text from a message or a key, made safe to show (issue 11).
 *
 * Whatever a message or a key says reaches a terminal or a label as data,
 * never as control: no escape sequence may move the cursor, erase a line,
 * set a window title or turn text around, so that nothing a sender writes
 * can redraw or imitate the status Postern draws.  This is the one place
 * that rule lives; the CLI and the GUI both call it.
 *
 * What is unsafe: every C0 control (U+0000–U+001F) and DEL, every C1
 * control (U+0080–U+009F, 0x9b being CSI), the bidirectional controls
 * (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), the line and
 * paragraph separators (U+2028, U+2029), every other invisible format
 * character (Unicode category Cf: zero width space, word joiner, BOM, tag
 * characters…) except the three that ordinary text needs (soft hyphen
 * U+00AD, zero width non-joiner U+200C and joiner U+200D, which emoji
 * sequences and several scripts use), the Hangul fillers that show as
 * nothing (U+115F, U+1160, U+3164, U+FFA0), and bytes that are not UTF-8.
 *
 * How it is shown, always ASCII and never a control:
 *   \xHH        a C0 control or DEL (HH < 0x80: "\x1b" for ESC), or a byte
 *               that is not UTF-8 (HH >= 0x80: "\xff"); the two never
 *               share a value, so the form says which it was;
 *   \uHHHH      an unsafe character of the BMP ("\u009b", "\u202e");
 *   \UHHHHHHHH  one beyond it ("\U000e0041", a tag character);
 *   \\          a backslash from the text, when what follows it would
 *               otherwise read as one of the forms above (a backslash
 *               followed by another, or by x, u or U, or by an escape);
 *               any other backslash is left alone, so that "C:\temp" reads
 *               as it was written.
 * Hexadecimal digits are lower case.  Everything else, letters of any
 * script, emoji, combining marks, is kept as it is. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether @c is never shown as itself (the list above), leaving aside tab
 * and line feed, which each function below treats in its own way. */
gboolean pst_text_unichar_is_unsafe (gunichar c);

/* @text (@len bytes, or up to its NUL when @len is -1) as one line: tab,
 * line feed, carriage return and U+2028/U+2029 become a space each (what
 * unfolding a header does, and a field shown on one line cannot add a
 * line), every other unsafe character becomes visible as described above.
 * For header fields, file names, user ids, server replies.  NULL gives
 * NULL.  Transfer full. */
char *pst_text_sanitize_line (const char *text, gssize len);

/* pst_text_sanitize_line (@text, -1) cut to at most @max_chars characters
 * (at least 2), the last of them "…" when it was cut: for what a server
 * sends about itself (a certificate's subject and issuer, an error), which
 * may be as long as it likes and must not push what Postern says out of
 * sight.  Runs of white space become one space, and a character keeps at
 * most 3 combining marks, so that a padded or stacked name cannot pass for
 * a line of its own where the text wraps.  NULL gives NULL.  Transfer full. */
char *pst_text_sanitize_short (const char *text, gsize max_chars);

/* @text (NUL-terminated) with every character that pst_text_sanitize_line
 * would not show as itself — tab, line feed, carriage return, U+2028 and
 * U+2029 included — and every byte that is not UTF-8 replaced by U+FFFD,
 * white space and marks tidied and cut as pst_text_sanitize_short.  For what is passed on and sanitized
 * again where it is shown (a server certificate's name, read by the CLI
 * and the GUI): a replacement character is shown as itself, where an
 * escape would be escaped twice.  NULL gives NULL.  Transfer full. */
char *pst_text_replace_unsafe (const char *text, gsize max_chars);

/* @text as several lines: line feed and tab are kept, a carriage return
 * before a line feed is dropped, everything else unsafe (a carriage return
 * alone, backspace, form feed, U+2028…) becomes visible as described above.
 * For a message's body.  NULL gives NULL.  Transfer full. */
char *pst_text_sanitize_body (const char *text, gssize len);

/* @json (a JSON text, as json-glib writes it) with every unsafe character
 * inside its strings written as a JSON escape ("\u009b", "\u202e", a
 * surrogate pair beyond the BMP) and every byte that is not UTF-8 as
 * "\ufffd".  json-glib escapes C0 controls and DEL itself but writes C1
 * controls and bidirectional overrides as they are, which a terminal acts
 * on; escaped, the document parses to the same values.  Transfer full. */
char *pst_text_sanitize_json (const char *json);

/* Whether @address is one address that a status may show as the signer's:
 * valid UTF-8, an '@', at most 254 bytes, no white space, no control or
 * format character, no angle bracket.  Anything else (a certificate's
 * subject, "a@b (good), matches From") is not shown as an address. */
gboolean pst_text_is_plain_address (const char *address);

G_END_DECLS
