// `tt-agent add` checks the module on this side before it asks for a PIN: a typo in the path,
// a directory or a library that is not PKCS#11 should cost no PIN entry, and should read as
// `list` and `pubkey` say it. The file is read, never loaded: nothing of it runs here (the
// agent does its own check, against its allowlist, before its host loads anything).
import { stat } from 'node:fs/promises';
import { elfExportsSymbol, NotElfError } from '../agent/elf-exports';
import { ModuleLoadError } from '../pkcs11/errors';

/** Resolves when `modulePath` is a file exporting C_GetFunctionList; throws ModuleLoadError otherwise. */
export async function checkModuleFile(modulePath: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(modulePath)).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ModuleLoadError(modulePath, 'not-found', code, undefined, { cause: err });
  }
  if (!isFile) throw new ModuleLoadError(modulePath, 'not-a-file', 'not a regular file');
  let exported: boolean;
  try {
    exported = await elfExportsSymbol(modulePath, 'C_GetFunctionList');
  } catch (err) {
    // Unreadable or not ELF: the same words list uses for a file dlopen() rejects.
    const why = err instanceof NotElfError ? 'not an ELF file' : ((err as NodeJS.ErrnoException).code ?? String(err));
    throw new ModuleLoadError(modulePath, 'not-shared-library', why, undefined, { cause: err });
  }
  if (!exported) throw new ModuleLoadError(modulePath, 'not-pkcs11', 'no C_GetFunctionList');
}
