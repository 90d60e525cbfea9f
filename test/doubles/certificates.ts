/**
 * Throwaway certificates made at test time (no private key is ever committed): an app registration's client
 * certificate as PEM (optionally with an encrypted key) and as PFX, and a TLS server certificate for 127.0.0.1 /
 * localhost that only the test trusts. Keys come from `node:crypto` (fast); node-forge writes the X.509 and PKCS#12.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** A certificate with its key, in the forms the tests hand to `@azure/identity` and to the doubles. */
export interface TestCertificate {
  /** `-----BEGIN CERTIFICATE-----` … */
  certificatePem: string;
  /** Unencrypted PKCS#8 key. */
  privateKeyPem: string;
  /** The certificate's public key, for verifying signatures. */
  publicKeyPem: string;
  /** SHA-1 and SHA-256 of the DER certificate, hex upper case: what Entra shows and what `x5t`/`x5t#S256` encode. */
  thumbprintSha1: string;
  thumbprintSha256: string;
  /** The certificate and key as one PEM file (what `DATAVERSE_CERTIFICATE_PATH` takes). */
  pem(password?: string): string;
  /** A PKCS#12 (PFX) file holding the key and the certificate. */
  pfx(password: string): Buffer;
}

/**
 * Makes a self-signed RSA-2048 certificate valid from yesterday for 2 days.
 *
 * @example
 * const server = makeCertificate('127.0.0.1', ['127.0.0.1', 'localhost']);
 */
export function makeCertificate(commonName: string, altNames: string[] = []): TestCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 86_400_000);
  cert.validity.notAfter = new Date(Date.now() + 2 * 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  if (altNames.length > 0) {
    cert.setExtensions([
      {
        name: 'subjectAltName',
        altNames: altNames.map((name) =>
          /^\d+\.\d+\.\d+\.\d+$/.test(name) ? { type: 7, ip: name } : { type: 2, value: name },
        ),
      },
    ]);
  }
  cert.sign(forgeKey, forge.md.sha256.create());
  const certificatePem = forge.pki.certificateToPem(cert);
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  return {
    certificatePem,
    privateKeyPem,
    publicKeyPem,
    thumbprintSha1: createHash('sha1').update(der).digest('hex').toUpperCase(),
    thumbprintSha256: createHash('sha256').update(der).digest('hex').toUpperCase(),
    pem(password) {
      const key = password
        ? forge.pki.encryptRsaPrivateKey(forgeKey, password, { algorithm: 'aes256' })
        : privateKeyPem;
      return `${key.trim()}\n${certificatePem}`;
    },
    pfx(password) {
      const asn1 = forge.pkcs12.toPkcs12Asn1(forgeKey, [cert], password, { algorithm: '3des' });
      return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
    },
  };
}
