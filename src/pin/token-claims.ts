// Which module serves which token, as the module hosts reported in their loads. The first
// module to report a token owns it; another module naming the same label and serial gets no
// PIN for it, so a rogue module cannot borrow a token's identity to read its PIN.
export class TokenClaims {
  /** token key → module path */
  private readonly owners = new Map<string, string>();

  /** The module that owned the token before, when it was another: the claim is refused. */
  claim(owner: string, key: string): string | undefined {
    const holder = this.owners.get(key);
    if (holder !== undefined && holder !== owner) return holder;
    this.owners.set(key, owner);
    return undefined;
  }

  serves(owner: string, key: string): boolean {
    return this.owners.get(key) === owner;
  }

  /** Forgets every claim of `owner`; returns the token keys it held. */
  release(owner: string): string[] {
    const keys = [...this.owners].filter(([, holder]) => holder === owner).map(([key]) => key);
    for (const key of keys) this.owners.delete(key);
    return keys;
  }
}
