// The token layer's common entry points, for the CLI and the RNG feeder. (Only src/pkcs11
// imports pkcs11js; other layers may also import a single file of this folder directly.)
export * from './errors';
export { openModule, Pkcs11Module, type OpenModuleOptions, type ModuleInfo, type SlotScan } from './module';
export * from './token';
export { Session, CKU_SO, CKU_USER, CKU_CONTEXT_SPECIFIC, type SignOptions } from './session';
export * from './discover';
export * from './uri';
export * from './resolve';
export * from './select';
export {
  certificatePublicKey,
  curveFromEcParams,
  ecPublicKey,
  pointFromEcPoint,
  publicKeyFromJwk,
  publicKeyToJwk,
  publicKeyToPem,
  rsaPublicKey,
  samePublicKey,
} from './key-material';
export { CKK_EC_EDWARDS, CKM_EDDSA } from './attributes';
