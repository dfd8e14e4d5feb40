/*
 * pgp.h — decrypts a downloaded .pgp/.gpg file with GPGME into a file in
 * the connector's work directory, with a keyring of its own (work_dir/gnupg,
 * 0700) holding only the connector's keys. With a signer key configured,
 * the file must carry a good signature by that key, or it fails.
 */
#ifndef BS_PGP_H
#define BS_PGP_H

/* 1 for names the driver decrypts: .pgp, .gpg, .asc. */
int bs_pgp_name(const char *name);

/* Decrypts in_path to out_path (created 0600). private_key / passphrase /
 * signer_key are armored text (passphrase and signer_key may be NULL).
 * 0, or -1 with *why (malloc'd). */
int bs_pgp_decrypt(const char *in_path, const char *out_path, const char *gnupg_home,
                   const char *private_key, const char *passphrase, const char *signer_key,
                   char **why);

#endif
