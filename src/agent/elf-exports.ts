// Does a shared library export a symbol? Read from the ELF file itself, without dlopen():
// dlopen runs the library's constructors, and CVE-2023-38408 showed that merely loading an
// arbitrary system library can be an exploit. So a "module" must prove it is a PKCS#11
// module (exports C_GetFunctionList) before anything maps it.
//
// ELF layout used (System V ABI, gABI "Sections" and "Symbol Table"):
//   e_ident[EI_CLASS] 1 = 32-bit, 2 = 64-bit; e_ident[EI_DATA] 1 = little, 2 = big endian
//   section headers at e_shoff, e_shnum entries of e_shentsize; SHT_DYNSYM = 11 holds the
//   exported symbols, its sh_link names the string table; a symbol with st_shndx 0
//   (SHN_UNDEF) is imported, not defined.
import { open, type FileHandle } from 'node:fs/promises';

const SHT_DYNSYM = 11;
const SHN_UNDEF = 0;
// Far above any real .dynsym (a few MB for the biggest vendor modules); guards junk headers.
const MAX_TABLE = 64 * 1024 * 1024;

export class NotElfError extends Error {
  constructor(readonly path: string, why: string) {
    super(`${path} is not an ELF shared library (${why})`);
    this.name = 'NotElfError';
  }
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** True when `path` is an ELF file whose dynamic symbol table defines `symbol`. */
export async function elfExportsSymbol(path: string, symbol: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const ident = await readAt(fh, 0, 64);
    if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) throw new NotElfError(path, 'no ELF magic');
    const is64 = ident[4] === 2;
    const le = ident[5] === 1;
    if ((ident[4] !== 1 && !is64) || (ident[5] !== 1 && ident[5] !== 2)) throw new NotElfError(path, 'unknown ELF class or byte order');
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const addr = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));

    const shoff = addr(ident, is64 ? 0x28 : 0x20);
    const shentsize = u16(ident, is64 ? 0x3a : 0x2e);
    const shnum = u16(ident, is64 ? 0x3c : 0x30);
    if (shoff === 0 || shnum === 0) throw new NotElfError(path, 'no section headers to read its exports from');
    const headers = await readAt(fh, shoff, shentsize * shnum);
    const sections: Section[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      if (o + shentsize > headers.length) throw new NotElfError(path, 'truncated section headers');
      sections.push(
        is64
          ? { type: u32(headers, o + 4), offset: addr(headers, o + 0x18), size: addr(headers, o + 0x20), link: u32(headers, o + 0x28), entsize: addr(headers, o + 0x38) }
          : { type: u32(headers, o + 4), offset: u32(headers, o + 0x10), size: u32(headers, o + 0x14), link: u32(headers, o + 0x18), entsize: u32(headers, o + 0x24) },
      );
    }
    const wanted = Buffer.from(`${symbol}\0`, 'latin1');
    for (const dynsym of sections.filter((s) => s.type === SHT_DYNSYM)) {
      const strtab = sections[dynsym.link];
      const entsize = dynsym.entsize || (is64 ? 24 : 16);
      if (!strtab || dynsym.size > MAX_TABLE || strtab.size > MAX_TABLE) continue;
      const syms = await readAt(fh, dynsym.offset, dynsym.size);
      const strs = await readAt(fh, strtab.offset, strtab.size);
      for (let o = 0; o + entsize <= syms.length; o += entsize) {
        const name = u32(syms, o);
        const shndx = u16(syms, is64 ? o + 6 : o + 14);
        if (shndx === SHN_UNDEF || name + wanted.length > strs.length) continue;
        if (strs.subarray(name, name + wanted.length).equals(wanted)) return true;
      }
    }
    return false;
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(position) || length < 0 || length > MAX_TABLE) return Buffer.alloc(0);
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return buf.subarray(0, bytesRead);
}
