/* wkd.c — Web Key Directory lookups over HTTPS, through libcurl.
 *
 * Why libcurl, and not one of the others:
 *   - gpg's own WKD (GPGME_KEYLIST_MODE_LOCATE, auto-key-locate wkd, done by
 *     dirmngr) cannot be given our CA file (dirmngr 2.2 trusts the system
 *     store and /etc/gnupg/trusted-certs, a system-wide directory; its
 *     --hkp-cacert is for key servers only), has no deadline for a whole
 *     lookup (only --connect-timeout and --resolver-timeout), and imports
 *     what it finds, every user id, before we could look at it;
 *   - libsoup 3 has a timeout per read and write, not for a whole
 *     exchange, and does TLS through a GIO module (glib-networking) that
 *     nothing else here needs and whose absence shows only at run time;
 *   - the project's transport (net/transport.c) would need an HTTP/1.1
 *     parser written here (status line, headers, chunked bodies,
 *     redirects): a second HTTP implementation to get right and fuzz.
 * libcurl is already on every machine that builds Postern (libetpan-dev
 * depends on libcurl4-gnutls-dev) and does exactly what wkd.h asks for:
 * one total deadline (CURLOPT_TIMEOUT_MS, name resolution included),
 * https as the only protocol also for redirects, TLS 1.2 as the minimum,
 * peer and host verification, a size cap, and many lookups in parallel in
 * one thread (the multi interface).  Its TLS is GnuTLS (Debian's flavour
 * of libcurl that libetpan needs), not the OpenSSL of transport.c: CURLOPT_CAINFO
 * adds the CA file to the system store in CURLOPT_CAPATH, both trusted.
 */
#include "net/wkd.h"

#include <curl/curl.h>
#include <string.h>

#include "util/error.h"

/* Redirects followed, https only. */
#define MAX_REDIRECTS 3L

const char *
pst_wkd_method_name (PstWkdMethod method)
{
  return method == PST_WKD_ADVANCED ? "advanced" : "direct";
}

char *
pst_wkd_hash (const char *local_part)
{
  static const char alphabet[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
  g_autofree char *lower = g_ascii_strdown (local_part, -1);
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize len = sizeof digest;
  GString *out = g_string_sized_new (32);
  guint bits = 0, acc = 0;

  g_checksum_update (sha1, (const guchar *) lower, (gssize) strlen (lower));
  g_checksum_get_digest (sha1, digest, &len);
  /* 160 bits, 5 at a time, most significant first: 32 characters. */
  for (gsize i = 0; i < len; i++)
    {
      acc = (acc << 8) | digest[i];
      bits += 8;
      while (bits >= 5)
        {
          g_string_append_c (out, alphabet[(acc >> (bits - 5)) & 31]);
          bits -= 5;
        }
    }
  return g_string_free (out, FALSE);
}

/* Splits @address into its local part and its domain (lower-cased); FALSE
 * when it is not an addr-spec whose domain is a host name. */
static gboolean
split_address (const char *address, char **local_out, char **domain_out)
{
  const char *at = address ? strrchr (address, '@') : NULL;

  if (at == NULL || at == address || at[1] == '\0' || strlen (at + 1) > 253)
    return FALSE;
  for (const char *p = address; *p; p++)
    if ((guchar) *p <= ' ' || *p == '<' || *p == '>' || *p == '/' || *p == '\\' || *p == 0x7f)
      return FALSE;
  for (const char *p = at + 1; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  if (at[1] == '.' || at[1] == '-' || strstr (at + 1, "..") != NULL)
    return FALSE;
  *local_out = g_strndup (address, at - address);
  *domain_out = g_ascii_strdown (at + 1, -1);
  return TRUE;
}

char *
pst_wkd_url (const char *address, PstWkdMethod method, GError **error)
{
  g_autofree char *local = NULL, *domain = NULL, *hash = NULL, *l = NULL;

  if (!split_address (address, &local, &domain))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                   "'%s' is not an address whose key a Web Key Directory can hold "
                   "(local-part@host.name, ASCII)", address ? address : "");
      return NULL;
    }
  hash = pst_wkd_hash (local);
  l = g_uri_escape_string (local, NULL, FALSE);
  if (method == PST_WKD_ADVANCED)
    return g_strdup_printf ("https://openpgpkey.%s/.well-known/openpgpkey/%s/hu/%s?l=%s", domain,
                            domain, hash, l);
  return g_strdup_printf ("https://%s/.well-known/openpgpkey/hu/%s?l=%s", domain, hash, l);
}

void
pst_wkd_answer_free (PstWkdAnswer *answer)
{
  if (answer == NULL)
    return;
  g_free (answer->address);
  g_clear_pointer (&answer->key, g_bytes_unref);
  g_clear_error (&answer->error);
  g_free (answer);
}

/* One address being looked up. */
typedef struct {
  PstWkdAnswer *answer;
  CURL *easy;              /* the request in flight, or NULL */
  GByteArray *body;
  gsize max_size;
  gboolean too_large;
  char *advanced_failure;  /* why the advanced method could not be used, before the direct one */
  char errbuf[CURL_ERROR_SIZE];
} Job;

static size_t
on_body (char *data, size_t size, size_t n, void *user_data)
{
  Job *job = user_data;
  gsize len = size * n;

  if (len > job->max_size - job->body->len)
    {
      job->too_large = TRUE;
      return 0;   /* CURLE_WRITE_ERROR */
    }
  g_byte_array_append (job->body, (const guint8 *) data, (guint) len);
  return len;
}

static gpointer
global_init (gpointer unused)
{
  return GINT_TO_POINTER (curl_global_init (CURL_GLOBAL_DEFAULT) == CURLE_OK);
}

static gboolean
start (Job *job, CURLM *multi, PstWkdMethod method, const PstWkdOptions *o, gint64 left_ms,
       GError **error)
{
  g_autofree char *url = pst_wkd_url (job->answer->address, method, error);
  const curl_version_info_data *info = curl_version_info (CURLVERSION_NOW);
  CURL *e;

  if (url == NULL)
    return FALSE;
  job->answer->method = method;
  g_byte_array_set_size (job->body, 0);
  job->too_large = FALSE;
  job->errbuf[0] = '\0';
  e = job->easy = curl_easy_init ();
  if (e == NULL)
    g_error ("libcurl cannot make a request");   /* out of memory: abort, as g_malloc does */
  curl_easy_setopt (e, CURLOPT_URL, url);
  curl_easy_setopt (e, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt (e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt (e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt (e, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
  curl_easy_setopt (e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt (e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (info->capath != NULL)
    curl_easy_setopt (e, CURLOPT_CAPATH, info->capath);
  if (o->ca_file != NULL)
    curl_easy_setopt (e, CURLOPT_CAINFO, o->ca_file);
  curl_easy_setopt (e, CURLOPT_NOPROXY, "*");
  curl_easy_setopt (e, CURLOPT_NOSIGNAL, 1L);
  /* A name lookup still running at the deadline is left to finish on its
   * own rather than waited for. */
  curl_easy_setopt (e, CURLOPT_QUICK_EXIT, 1L);
  curl_easy_setopt (e, CURLOPT_TIMEOUT_MS, (long) MAX (left_ms, 1));
  curl_easy_setopt (e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) job->max_size);
  curl_easy_setopt (e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (e, CURLOPT_WRITEDATA, job);
  curl_easy_setopt (e, CURLOPT_ERRORBUFFER, job->errbuf);
  curl_easy_setopt (e, CURLOPT_PRIVATE, job);
  curl_easy_setopt (e, CURLOPT_USERAGENT, "Postern/" PACKAGE_VERSION);
  curl_multi_add_handle (multi, e);
  return TRUE;
}

static void
stop (Job *job, CURLM *multi)
{
  if (job->easy == NULL)
    return;
  curl_multi_remove_handle (multi, job->easy);
  curl_easy_cleanup (job->easy);
  job->easy = NULL;
}

/* Whether @code says the advanced host cannot be used at all, so that the
 * direct method is the one to ask (draft §3.1: "only if the required
 * sub-domain does not exist"; a name that does not resolve, nothing
 * listening on it, or a certificate not made for it, as a wildcard DNS
 * entry gives). */
static gboolean
no_advanced_host (CURLcode code)
{
  return code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_CONNECT
         || code == CURLE_PEER_FAILED_VERIFICATION;
}

static char *
failure_text (Job *job, CURLcode code, guint timeout_ms)
{
  switch (code)
    {
    case CURLE_OPERATION_TIMEDOUT:
      return g_strdup_printf ("no answer within %u ms", timeout_ms);
    case CURLE_FILESIZE_EXCEEDED:
      return g_strdup_printf ("the answer is larger than %" G_GSIZE_FORMAT " KiB",
                              job->max_size / 1024);
    case CURLE_WRITE_ERROR:
      if (job->too_large)
        return g_strdup_printf ("the answer is larger than %" G_GSIZE_FORMAT " KiB",
                                job->max_size / 1024);
      break;
    case CURLE_UNSUPPORTED_PROTOCOL:
      return g_strdup ("redirected to a URL that is not https");
    case CURLE_TOO_MANY_REDIRECTS:
      return g_strdup_printf ("more than %ld redirects", MAX_REDIRECTS);
    default:
      break;
    }
  return g_strdup (job->errbuf[0] ? job->errbuf : curl_easy_strerror (code));
}

/* The request of @job ended with @code: its answer, or the direct method
 * started.  TRUE when @job is done. */
static gboolean
finish (Job *job, CURLM *multi, CURLcode code, const PstWkdOptions *o, guint timeout_ms,
        gint64 left_ms)
{
  PstWkdAnswer *a = job->answer;
  const char *method = pst_wkd_method_name (a->method);
  g_autofree char *why = NULL;
  long status = 0;

  curl_easy_getinfo (job->easy, CURLINFO_RESPONSE_CODE, &status);
  if (code != CURLE_OK)
    why = failure_text (job, code, timeout_ms);
  stop (job, multi);
  if (code == CURLE_OK && status == 200 && job->body->len > 0)
    {
      a->key = g_bytes_new (job->body->data, job->body->len);
      return TRUE;
    }
  if (code == CURLE_OK && (status == 200 || status == 404 || status == 410))
    {
      g_set_error (&a->error, PST_ERROR, PST_ERROR_POLICY,
                   "no key for %s in its Web Key Directory (%s method: %s)", a->address, method,
                   status == 200 ? "an empty answer" : status == 404 ? "HTTP 404" : "HTTP 410");
      return TRUE;
    }
  if (code == CURLE_OK)
    why = g_strdup_printf ("the server answered HTTP %ld", status);
  else if (a->method == PST_WKD_ADVANCED && no_advanced_host (code) && left_ms > 0)
    {
      job->advanced_failure = g_steal_pointer (&why);
      if (start (job, multi, PST_WKD_DIRECT, o, left_ms, &a->error))
        return FALSE;
      return TRUE;
    }
  if (job->advanced_failure != NULL)
    g_set_error (&a->error, PST_ERROR, PST_ERROR_NETWORK,
                 "the Web Key Directory of %s cannot be asked: advanced method: %s; direct "
                 "method: %s", strrchr (a->address, '@') + 1, job->advanced_failure, why);
  else
    g_set_error (&a->error, PST_ERROR, PST_ERROR_NETWORK,
                 "the Web Key Directory of %s cannot be asked (%s method): %s",
                 strrchr (a->address, '@') + 1, method, why);
  return TRUE;
}

GPtrArray *
pst_wkd_fetch (const char *const *addresses, const PstWkdOptions *options)
{
  static GOnce once = G_ONCE_INIT;
  PstWkdOptions o = *options;
  GPtrArray *answers = g_ptr_array_new_with_free_func ((GDestroyNotify) pst_wkd_answer_free);
  g_autoptr (GPtrArray) jobs = g_ptr_array_new ();
  gboolean usable = GPOINTER_TO_INT (g_once (&once, global_init, NULL));
  gint64 deadline;
  guint active = 0;
  CURLM *multi = NULL;

  if (o.timeout_ms == 0)
    o.timeout_ms = PST_WKD_DEFAULT_TIMEOUT_MS;
  if (o.max_size == 0)
    o.max_size = PST_WKD_MAX_KEY_SIZE;
  deadline = g_get_monotonic_time () + (gint64) o.timeout_ms * 1000;
  if (usable)
    multi = curl_multi_init ();
  for (const char *const *a = addresses; a != NULL && *a != NULL; a++)
    {
      PstWkdAnswer *answer = g_new0 (PstWkdAnswer, 1);
      Job *job;

      answer->address = g_strdup (*a);
      g_ptr_array_add (answers, answer);
      if (multi == NULL)
        {
          g_set_error (&answer->error, PST_ERROR, PST_ERROR_NETWORK,
                       "libcurl cannot be initialised: no Web Key Directory lookups");
          continue;
        }
      job = g_new0 (Job, 1);
      job->answer = answer;
      job->body = g_byte_array_new ();
      job->max_size = o.max_size;
      g_ptr_array_add (jobs, job);
      if (start (job, multi, PST_WKD_ADVANCED, &o, o.timeout_ms, &answer->error))
        active++;
    }
  while (active > 0)
    {
      gint64 left_ms = (deadline - g_get_monotonic_time ()) / 1000;
      CURLMsg *msg;
      int running = 0, queued = 0;

      if (left_ms <= 0)
        break;
      curl_multi_perform (multi, &running);
      while ((msg = curl_multi_info_read (multi, &queued)) != NULL)
        {
          Job *job = NULL;

          if (msg->msg != CURLMSG_DONE)
            continue;
          curl_easy_getinfo (msg->easy_handle, CURLINFO_PRIVATE, (char **) &job);
          left_ms = (deadline - g_get_monotonic_time ()) / 1000;
          if (finish (job, multi, msg->data.result, &o, o.timeout_ms, left_ms))
            active--;
        }
      if (active > 0)
        curl_multi_poll (multi, NULL, 0, (int) CLAMP (left_ms, 1, 1000), NULL);
    }
  for (guint i = 0; i < jobs->len; i++)
    {
      Job *job = g_ptr_array_index (jobs, i);

      if (job->easy != NULL)
        {
          stop (job, multi);
          g_set_error (&job->answer->error, PST_ERROR, PST_ERROR_NETWORK,
                       "the Web Key Directory of %s cannot be asked (%s method): no answer "
                       "within %u ms", strrchr (job->answer->address, '@') + 1,
                       pst_wkd_method_name (job->answer->method), o.timeout_ms);
        }
      g_byte_array_unref (job->body);
      g_free (job->advanced_failure);
      g_free (job);
    }
  if (multi != NULL)
    curl_multi_cleanup (multi);
  return answers;
}
