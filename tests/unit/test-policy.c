/* Unit tests for crypto/policy.c: every branch of the decision, with key
 * availability given by tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "crypto/policy.h"
#include "util/addr.h"
#include "util/error.h"

#define ALICE "alice@postern.test"
#define BOB "bob@postern.test"
#define CAROL "carol@postern.test"
#define DAVE "dave@postern.test"

typedef struct {
  const char *const *pgp_keys;     /* addresses with an OpenPGP key */
  const char *const *smime_keys;   /* addresses with an S/MIME certificate */
  gboolean pgp_identity;
  gboolean smime_identity;
} Keys;

static gboolean
has_key (PstScheme scheme, const char *address, gpointer user_data)
{
  Keys *k = user_data;

  return pst_addr_in_list (address, scheme == PST_SCHEME_PGP ? k->pgp_keys : k->smime_keys);
}

static gboolean
has_identity (PstScheme scheme, const char *sender, gpointer user_data)
{
  Keys *k = user_data;

  assert_string_equal (sender, ALICE);
  return scheme == PST_SCHEME_PGP ? k->pgp_identity : k->smime_identity;
}

static const char *const everyone[] = { ALICE, BOB, CAROL, DAVE, NULL };
static const char *const no_carol[] = { ALICE, BOB, DAVE, NULL };
static const char *const nobody[] = { NULL };
static const char *const to_bob[] = { BOB, NULL };
static const char *const to_bob_carol[] = { "Bob@postern.test", CAROL, "bob@POSTERN.test", NULL };

static PstPolicyInput
input (Keys *k, const char *const *to, const char *const *bcc)
{
  PstPolicyInput in = { 0 };

  in.sender = ALICE;
  in.recipients = to;
  in.bcc = bcc;
  in.has_key = has_key;
  in.has_identity = has_identity;
  in.user_data = k;
  return in;
}

static void
assert_strv (char **got, ...)
{
  va_list ap;
  const char *want;
  guint i = 0;

  assert_non_null (got);
  va_start (ap, got);
  while ((want = va_arg (ap, const char *)) != NULL)
    {
      assert_non_null (got[i]);
      assert_string_equal (got[i], want);
      i++;
    }
  va_end (ap);
  assert_null (got[i]);
}

static PstPolicyCopy *
copy_at (PstPolicyDecision *d, guint i)
{
  assert_true (i < d->copies->len);
  return g_ptr_array_index (d->copies, i);
}

/* Defaults: encrypt auto, sign yes, scheme auto preferring OpenPGP. */
static void
test_defaults_encrypt (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  PstPolicyInput in = input (&k, to_bob, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, &error);

  assert_null (error);
  assert_non_null (d);
  assert_true (d->encrypt);
  assert_true (d->sign);
  assert_int_equal (d->scheme, PST_SCHEME_PGP);
  assert_int_equal (d->copies->len, 1);
  assert_strv (copy_at (d, 0)->envelope, BOB, NULL);
  assert_strv (copy_at (d, 0)->encrypt_to, BOB, ALICE, NULL);
  assert_false (copy_at (d, 0)->bcc);
  assert_strv (d->missing, NULL);
}

/* Duplicates (local part exact, domain case-insensitive) are merged. */
static void
test_duplicates (void **state)
{
  const char *const keys[] = { ALICE, "Bob@postern.test", BOB, CAROL, DAVE, NULL };
  Keys k = { keys, nobody, TRUE, FALSE };
  const char *const bcc[] = { "bob@postern.TEST", DAVE, DAVE, NULL };
  PstPolicyInput in = input (&k, to_bob_carol, bcc);
  g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);

  assert_non_null (d);
  assert_int_equal (d->copies->len, 2);
  /* "Bob@…" differs from "bob@…" in its local part: two mailboxes */
  assert_strv (copy_at (d, 0)->envelope, "Bob@postern.test", CAROL, "bob@POSTERN.test", NULL);
  assert_strv (copy_at (d, 0)->encrypt_to, "Bob@postern.test", CAROL, "bob@POSTERN.test", ALICE, NULL);
  /* bob@postern.TEST is already a visible recipient: no copy of its own */
  assert_strv (copy_at (d, 1)->envelope, DAVE, NULL);
  assert_true (copy_at (d, 1)->bcc);
}

static void
test_bcc_copies (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  const char *const bcc[] = { CAROL, DAVE, NULL };
  PstPolicyInput in = input (&k, to_bob, bcc);
  g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);

  assert_non_null (d);
  assert_true (d->encrypt);
  assert_int_equal (d->copies->len, 3);
  assert_strv (copy_at (d, 0)->envelope, BOB, NULL);
  assert_strv (copy_at (d, 0)->encrypt_to, BOB, ALICE, NULL);
  assert_false (copy_at (d, 0)->bcc);
  assert_strv (copy_at (d, 1)->envelope, CAROL, NULL);
  assert_strv (copy_at (d, 1)->encrypt_to, CAROL, ALICE, NULL);
  assert_true (copy_at (d, 1)->bcc);
  assert_strv (copy_at (d, 2)->envelope, DAVE, NULL);
  assert_strv (copy_at (d, 2)->encrypt_to, DAVE, ALICE, NULL);
  assert_true (copy_at (d, 2)->bcc);
}

/* Only Bcc recipients: no To/Cc copy at all. */
static void
test_bcc_only (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  const char *const bcc[] = { CAROL, NULL };
  PstPolicyInput in = input (&k, NULL, bcc);
  g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);

  assert_non_null (d);
  assert_int_equal (d->copies->len, 1);
  assert_strv (copy_at (d, 0)->envelope, CAROL, NULL);
  assert_strv (copy_at (d, 0)->encrypt_to, CAROL, ALICE, NULL);
  assert_true (copy_at (d, 0)->bcc);
}

/* Not encrypted: one copy for all, Bcc included, no encryption list. */
static void
test_plain_one_copy (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  const char *const bcc[] = { CAROL, NULL };
  PstPolicyInput in = input (&k, to_bob, bcc);
  g_autoptr(PstPolicyDecision) d = NULL;

  in.account.encrypt = PST_POLICY_ENCRYPT_NEVER;
  d = pst_policy_decide (&in, NULL);
  assert_non_null (d);
  assert_false (d->encrypt);
  assert_true (d->sign);
  assert_int_equal (d->scheme, PST_SCHEME_PGP);
  assert_int_equal (d->copies->len, 1);
  assert_strv (copy_at (d, 0)->envelope, BOB, CAROL, NULL);
  assert_null (copy_at (d, 0)->encrypt_to);
  assert_strv (d->missing, NULL);
}

static void
test_always_refuses (void **state)
{
  Keys k = { no_carol, nobody, TRUE, FALSE };
  const char *const to[] = { BOB, CAROL, NULL };
  const char *const bcc[] = { "erin@postern.test", NULL };
  PstPolicyInput in = input (&k, to, bcc);
  g_autoptr(GError) error = NULL;
  g_autoptr(PstPolicyDecision) d = NULL;

  in.account.encrypt = PST_POLICY_ENCRYPT_AUTO;
  in.message.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
  in.message.scheme = PST_POLICY_SCHEME_PGP;
  d = pst_policy_decide (&in, &error);
  assert_null (d);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
  assert_string_equal (error->message, "encryption is required but there is no OpenPGP key for: "
                                       CAROL ", erin@postern.test; nothing was sent");
}

/* Under scheme auto the refusal names what is missing in both schemes. */
static void
test_always_refuses_auto (void **state)
{
  const char *const smime[] = { ALICE, CAROL, NULL };
  Keys k = { no_carol, smime, TRUE, TRUE };
  const char *const to[] = { BOB, CAROL, NULL };
  PstPolicyInput in = input (&k, to, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PstPolicyDecision) d = NULL;

  in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
  d = pst_policy_decide (&in, &error);
  assert_null (d);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
  assert_string_equal (error->message, "encryption is required but there is no OpenPGP key for: "
                                       CAROL " and no S/MIME certificate for: " BOB
                                       "; nothing was sent");

  /* the same with the account preferring S/MIME: S/MIME named first */
  {
    g_autoptr(GError) e2 = NULL;
    g_autoptr(PstPolicyDecision) d2 = NULL;

    in.account.scheme = PST_POLICY_SCHEME_SMIME;
    in.message.scheme = PST_POLICY_SCHEME_AUTO;
    d2 = pst_policy_decide (&in, &e2);
    assert_null (d2);
    assert_string_equal (e2->message, "encryption is required but there is no S/MIME certificate "
                                      "for: " BOB " and no OpenPGP key for: " CAROL
                                      "; nothing was sent");
  }
}

/* The sender's own key is needed too (encrypt-to-self). */
static void
test_always_needs_self (void **state)
{
  const char *const others[] = { BOB, NULL };
  Keys k = { others, nobody, TRUE, FALSE };
  PstPolicyInput in = input (&k, to_bob, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PstPolicyDecision) d = NULL;

  in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
  in.account.scheme = PST_POLICY_SCHEME_PGP;
  d = pst_policy_decide (&in, &error);
  assert_null (d);
  assert_string_equal (error->message, "encryption is required but there is no OpenPGP key for: "
                                       ALICE "; nothing was sent");
}

/* auto without a covering scheme: plaintext, signed, missing keys listed. */
static void
test_auto_falls_back (void **state)
{
  Keys k = { no_carol, nobody, TRUE, FALSE };
  const char *const to[] = { BOB, CAROL, NULL };
  const char *const bcc[] = { DAVE, NULL };
  PstPolicyInput in = input (&k, to, bcc);
  g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);

  assert_non_null (d);
  assert_false (d->encrypt);
  assert_true (d->sign);
  assert_int_equal (d->scheme, PST_SCHEME_PGP);
  assert_strv (d->missing, CAROL, NULL);
  assert_int_equal (d->copies->len, 1);
  assert_strv (copy_at (d, 0)->envelope, BOB, CAROL, DAVE, NULL);
  assert_null (copy_at (d, 0)->encrypt_to);
}

/* auto scheme: S/MIME covers when OpenPGP does not. */
static void
test_auto_scheme_other (void **state)
{
  const char *const smime[] = { ALICE, BOB, CAROL, NULL };
  Keys k = { no_carol, smime, TRUE, TRUE };
  const char *const to[] = { BOB, CAROL, NULL };
  PstPolicyInput in = input (&k, to, NULL);
  g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);

  assert_non_null (d);
  assert_true (d->encrypt);
  assert_int_equal (d->scheme, PST_SCHEME_SMIME);
  assert_strv (d->missing, NULL);
  assert_strv (copy_at (d, 0)->encrypt_to, BOB, CAROL, ALICE, NULL);

  /* forcing OpenPGP: carol has no key, auto encryption → plaintext signed with OpenPGP */
  {
    g_autoptr(PstPolicyDecision) d2 = NULL;

    in.message.scheme = PST_POLICY_SCHEME_PGP;
    d2 = pst_policy_decide (&in, NULL);
    assert_non_null (d2);
    assert_false (d2->encrypt);
    assert_int_equal (d2->scheme, PST_SCHEME_PGP);
    assert_strv (d2->missing, CAROL, NULL);
  }
}

/* Both cover: the account's preference wins; with signing, a scheme with an
 * identity wins over the preferred one without. */
static void
test_auto_scheme_preference (void **state)
{
  Keys k = { everyone, everyone, TRUE, TRUE };
  PstPolicyInput in = input (&k, to_bob, NULL);

  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_int_equal (d->scheme, PST_SCHEME_PGP);
  }
  in.account.scheme = PST_POLICY_SCHEME_SMIME;
  in.message.scheme = PST_POLICY_SCHEME_AUTO;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_int_equal (d->scheme, PST_SCHEME_SMIME);
    assert_true (d->encrypt);
  }
  k.smime_identity = FALSE;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_int_equal (d->scheme, PST_SCHEME_PGP);
    assert_true (d->encrypt);
    assert_true (d->sign);
  }
  /* not signing: the preference stands */
  in.message.sign = PST_POLICY_SIGN_NO;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_int_equal (d->scheme, PST_SCHEME_SMIME);
    assert_false (d->sign);
  }
}

/* The account's scheme, when it names one and the message says nothing,
 * is not a preference but the scheme. */
static void
test_account_scheme_forced (void **state)
{
  Keys k = { everyone, to_bob, TRUE, TRUE };
  PstPolicyInput in = input (&k, to_bob, NULL);
  g_autoptr(PstPolicyDecision) d = NULL;
  g_autoptr(GError) error = NULL;

  in.account.scheme = PST_POLICY_SCHEME_SMIME;
  in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
  d = pst_policy_decide (&in, &error);
  assert_null (d);
  assert_string_equal (error->message, "encryption is required but there is no S/MIME certificate "
                                       "for: " ALICE "; nothing was sent");
}

/* Signing without an identity is refused; with one scheme only, the other
 * is used under auto. */
static void
test_sign_identity (void **state)
{
  Keys k = { nobody, nobody, FALSE, TRUE };
  PstPolicyInput in = input (&k, to_bob, NULL);

  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_non_null (d);
    assert_false (d->encrypt);
    assert_true (d->sign);
    assert_int_equal (d->scheme, PST_SCHEME_SMIME);
    assert_strv (d->missing, BOB, ALICE, NULL);
  }
  k.smime_identity = FALSE;
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, &error);
    assert_null (d);
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
    assert_string_equal (error->message, "signing is required but there is no OpenPGP secret key "
                                         "for: " ALICE "; nothing was sent");
  }
  /* encrypting with a scheme that has no identity, and signing asked for */
  {
    Keys k2 = { everyone, nobody, FALSE, TRUE };
    PstPolicyInput in2 = input (&k2, to_bob, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in2, &error);

    assert_null (d);
    assert_string_equal (error->message, "signing is required but there is no OpenPGP secret key "
                                         "for: " ALICE "; nothing was sent");
    in2.message.sign = PST_POLICY_SIGN_NO;
    {
      g_autoptr(PstPolicyDecision) d2 = pst_policy_decide (&in2, NULL);
      assert_non_null (d2);
      assert_true (d2->encrypt);
      assert_false (d2->sign);
      assert_int_equal (d2->scheme, PST_SCHEME_PGP);
    }
  }
  /* forced S/MIME, not encrypting, no S/MIME identity */
  {
    Keys k3 = { nobody, nobody, TRUE, FALSE };
    PstPolicyInput in3 = input (&k3, to_bob, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(PstPolicyDecision) d = NULL;

    in3.message.scheme = PST_POLICY_SCHEME_SMIME;
    d = pst_policy_decide (&in3, &error);
    assert_null (d);
    assert_string_equal (error->message, "signing is required but there is no S/MIME certificate "
                                         "with its private key for: " ALICE "; nothing was sent");
  }
}

/* Overrides: the message's setting wins over the account's, unset falls
 * through. */
static void
test_overrides (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  PstPolicyInput in = input (&k, to_bob, NULL);

  in.account.encrypt = PST_POLICY_ENCRYPT_NEVER;
  in.account.sign = PST_POLICY_SIGN_NO;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_false (d->encrypt);
    assert_false (d->sign);
    assert_int_equal (d->scheme, PST_SCHEME_NONE);
    assert_int_equal (d->copies->len, 1);
    assert_null (copy_at (d, 0)->encrypt_to);
  }
  in.message.encrypt = PST_POLICY_ENCRYPT_AUTO;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_true (d->encrypt);
    assert_false (d->sign);
    assert_int_equal (d->scheme, PST_SCHEME_PGP);
  }
  in.message.sign = PST_POLICY_SIGN_YES;
  in.message.encrypt = PST_POLICY_ENCRYPT_NEVER;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_false (d->encrypt);
    assert_true (d->sign);
    assert_int_equal (d->scheme, PST_SCHEME_PGP);
  }
  in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
  in.message.encrypt = PST_POLICY_ENCRYPT_UNSET;
  {
    g_autoptr(PstPolicyDecision) d = pst_policy_decide (&in, NULL);
    assert_true (d->encrypt);
    assert_true (d->sign);
  }
}

/* A message raises an account's encrypt setting, never lowers "always"
 * (DESIGN.md §10): never and auto on such an account are refused even when
 * every key is there, with the way out in the reason. */
static void
test_never_lowers_always (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  PstPolicyEncrypt lower[] = { PST_POLICY_ENCRYPT_NEVER, PST_POLICY_ENCRYPT_AUTO };

  for (gsize i = 0; i < G_N_ELEMENTS (lower); i++)
    {
      PstPolicyInput in = input (&k, to_bob, NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(PstPolicyDecision) d = NULL;

      in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
      in.message.encrypt = lower[i];
      d = pst_policy_decide (&in, &error);
      assert_null (d);
      assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
      assert_non_null (strstr (error->message, "change the account"));
      assert_non_null (strstr (error->message, pst_policy_encrypt_to_string (lower[i])));
    }
  {
    /* Raising, or saying the same, is what a message may do. */
    PstPolicyInput in = input (&k, to_bob, NULL);
    g_autoptr(PstPolicyDecision) same = NULL, raised = NULL;

    in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
    in.message.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
    same = pst_policy_decide (&in, NULL);
    assert_non_null (same);
    assert_true (same->encrypt);
    in.account.encrypt = PST_POLICY_ENCRYPT_NEVER;
    raised = pst_policy_decide (&in, NULL);
    assert_non_null (raised);
    assert_true (raised->encrypt);
    assert_true (pst_policy_check_lowering (&in.account, &in.message, NULL));
  }
}

/* No callbacks: nobody has a key. */
static void
test_no_callbacks (void **state)
{
  PstPolicyInput in = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(PstPolicyDecision) d = NULL;

  in.sender = ALICE;
  in.recipients = to_bob;
  in.message.sign = PST_POLICY_SIGN_NO;
  d = pst_policy_decide (&in, &error);
  assert_non_null (d);
  assert_false (d->encrypt);
  assert_false (d->sign);
  assert_strv (d->missing, BOB, ALICE, NULL);
  assert_int_equal (d->scheme, PST_SCHEME_NONE);
}

static void
test_bad_input (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };

  {
    PstPolicyInput in = input (&k, nobody, NULL);
    g_autoptr(GError) error = NULL;
    assert_null (pst_policy_decide (&in, &error));
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  }
  {
    PstPolicyInput in = input (&k, NULL, NULL);
    g_autoptr(GError) error = NULL;
    assert_null (pst_policy_decide (&in, &error));
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
  }
  {
    PstPolicyInput in = input (&k, to_bob, NULL);
    g_autoptr(GError) error = NULL;
    in.sender = "no-at-sign";
    assert_null (pst_policy_decide (&in, &error));
    assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
    in.sender = NULL;
    assert_null (pst_policy_decide (&in, NULL));
  }
}

static void
test_strings (void **state)
{
  PstPolicyEncrypt e = PST_POLICY_ENCRYPT_UNSET;
  PstPolicyScheme s = PST_POLICY_SCHEME_UNSET;

  assert_true (pst_policy_encrypt_from_string ("always", &e));
  assert_int_equal (e, PST_POLICY_ENCRYPT_ALWAYS);
  assert_true (pst_policy_encrypt_from_string ("never", &e));
  assert_int_equal (e, PST_POLICY_ENCRYPT_NEVER);
  assert_true (pst_policy_encrypt_from_string ("auto", &e));
  assert_int_equal (e, PST_POLICY_ENCRYPT_AUTO);
  assert_false (pst_policy_encrypt_from_string ("Always", &e));
  assert_false (pst_policy_encrypt_from_string (NULL, &e));
  assert_int_equal (e, PST_POLICY_ENCRYPT_AUTO);
  assert_true (pst_policy_scheme_from_string ("smime", &s));
  assert_int_equal (s, PST_POLICY_SCHEME_SMIME);
  assert_true (pst_policy_scheme_from_string ("pgp", &s));
  assert_int_equal (s, PST_POLICY_SCHEME_PGP);
  assert_true (pst_policy_scheme_from_string ("auto", &s));
  assert_int_equal (s, PST_POLICY_SCHEME_AUTO);
  assert_false (pst_policy_scheme_from_string ("gpg", &s));
  assert_string_equal (pst_policy_encrypt_to_string (PST_POLICY_ENCRYPT_ALWAYS), "always");
  assert_string_equal (pst_policy_encrypt_to_string (PST_POLICY_ENCRYPT_NEVER), "never");
  assert_string_equal (pst_policy_encrypt_to_string (PST_POLICY_ENCRYPT_AUTO), "auto");
  assert_string_equal (pst_policy_encrypt_to_string (PST_POLICY_ENCRYPT_UNSET), "unset");
  assert_string_equal (pst_policy_scheme_to_string (PST_POLICY_SCHEME_SMIME), "smime");
  assert_string_equal (pst_policy_scheme_to_string (PST_POLICY_SCHEME_PGP), "pgp");
  assert_string_equal (pst_policy_scheme_to_string (PST_POLICY_SCHEME_AUTO), "auto");
  assert_string_equal (pst_policy_scheme_to_string (PST_POLICY_SCHEME_UNSET), "unset");
}

static gboolean
recommends_none (PstScheme scheme, const char *address, gpointer user_data)
{
  return FALSE;
}

/* Replies stay encrypted: under auto, an answer to encrypted mail whose
 * recipients all have keys is encrypted even when Autocrypt does not
 * recommend it (a plain message would not be). */
static void
test_reply_encrypted_ignores_recommendation (void **state)
{
  Keys k = { everyone, nobody, TRUE, FALSE };
  PstPolicyInput in = input (&k, to_bob, NULL);
  g_autoptr(PstPolicyDecision) plain = NULL, reply = NULL;

  in.recommends = recommends_none;
  plain = pst_policy_decide (&in, NULL);
  assert_non_null (plain);
  assert_false (plain->encrypt);
  assert_strv (plain->not_recommended, BOB, NULL);
  in.reply_to_encrypted = TRUE;
  reply = pst_policy_decide (&in, NULL);
  assert_non_null (reply);
  assert_true (reply->encrypt);
  assert_int_equal (reply->scheme, PST_SCHEME_PGP);
  assert_strv (reply->not_recommended, NULL);
  assert_strv (copy_at (reply, 0)->encrypt_to, BOB, ALICE, NULL);
}

/* ... and one whose recipient has no key is refused under auto, naming
 * that recipient and the way out, where a plain message goes in the
 * clear; under never it goes in the clear (the user's decision). */
static void
test_reply_encrypted_refused_without_key (void **state)
{
  Keys k = { no_carol, nobody, TRUE, FALSE };
  const char *const to[] = { BOB, CAROL, NULL };
  PstPolicyInput in = input (&k, to, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(PstPolicyDecision) plain = NULL, reply = NULL, never = NULL;

  plain = pst_policy_decide (&in, NULL);
  assert_non_null (plain);
  assert_false (plain->encrypt);
  assert_strv (plain->missing, CAROL, NULL);
  in.reply_to_encrypted = TRUE;
  reply = pst_policy_decide (&in, &error);
  assert_null (reply);
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
  assert_non_null (strstr (error->message, "encrypted mail"));
  assert_non_null (strstr (error->message, "OpenPGP key for: " CAROL " and"));
  assert_non_null (strstr (error->message, "--encrypt never"));
  assert_non_null (strstr (error->message, "nothing was sent"));
  in.message.encrypt = PST_POLICY_ENCRYPT_NEVER;
  never = pst_policy_decide (&in, NULL);
  assert_non_null (never);
  assert_false (never->encrypt);
  assert_strv (copy_at (never, 0)->envelope, BOB, CAROL, NULL);
}

/* Under always the refusal is always's own. */
static void
test_reply_encrypted_always (void **state)
{
  Keys k = { no_carol, nobody, TRUE, FALSE };
  const char *const to[] = { CAROL, NULL };
  PstPolicyInput in = input (&k, to, NULL);
  g_autoptr(GError) error = NULL;

  in.reply_to_encrypted = TRUE;
  in.account.encrypt = PST_POLICY_ENCRYPT_ALWAYS;
  assert_null (pst_policy_decide (&in, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_POLICY));
  assert_true (g_str_has_prefix (error->message, "encryption is required"));
  assert_null (strstr (error->message, "--encrypt never"));
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_defaults_encrypt),
    cmocka_unit_test (test_duplicates),
    cmocka_unit_test (test_bcc_copies),
    cmocka_unit_test (test_bcc_only),
    cmocka_unit_test (test_plain_one_copy),
    cmocka_unit_test (test_always_refuses),
    cmocka_unit_test (test_always_refuses_auto),
    cmocka_unit_test (test_always_needs_self),
    cmocka_unit_test (test_auto_falls_back),
    cmocka_unit_test (test_auto_scheme_other),
    cmocka_unit_test (test_auto_scheme_preference),
    cmocka_unit_test (test_account_scheme_forced),
    cmocka_unit_test (test_sign_identity),
    cmocka_unit_test (test_overrides),
    cmocka_unit_test (test_never_lowers_always),
    cmocka_unit_test (test_no_callbacks),
    cmocka_unit_test (test_bad_input),
    cmocka_unit_test (test_strings),
    cmocka_unit_test (test_reply_encrypted_ignores_recommendation),
    cmocka_unit_test (test_reply_encrypted_refused_without_key),
    cmocka_unit_test (test_reply_encrypted_always),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
