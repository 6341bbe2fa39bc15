// Certificate building for `tt-agent selfsign`: the signature comes from a callback (the token).
export { buildSelfSignedCertificate, checkDays, DEFAULT_DAYS, MAX_DAYS, toPem } from './self-signed';
export type { SelfSignedCertificate, SelfSignedOptions } from './self-signed';
export type { SignatureScheme } from './signature-algorithm';
export { signatureSchemeFor, ecdsaRawToDer } from './signature-algorithm';
export { parseDistinguishedName } from './distinguished-name';
export { subjectPublicKeyInfoDer } from './spki';
export { CertificateInputError } from './x509-errors';
export { derObjectIdentifier, derUnsignedInteger } from './der';
export { CURVE_OID, id_Ed25519 } from './oids';
