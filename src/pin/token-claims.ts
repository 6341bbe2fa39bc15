// Which module serves which token, as the module hosts reported in their loads. A token is
// served by a module only while no other module reports the same label and serial: a rogue
// module that names another module's token (before or after it was loaded) makes that token
// contested, and then no module is handed its PIN — borrowing a token's identity never
// yields its PIN.
export class TokenClaims {
  /** token key → the modules (paths) that reported it */
  private readonly claimants = new Map<string, Set<string>>();

  /** Records the claim; returns the other modules that report the same token (then it is contested). */
  claim(owner: string, key: string): string[] {
    const set = this.claimants.get(key) ?? new Set<string>();
    set.add(owner);
    this.claimants.set(key, set);
    return [...set].filter((o) => o !== owner);
  }

  serves(owner: string, key: string): boolean {
    const set = this.claimants.get(key);
    return set !== undefined && set.size === 1 && set.has(owner);
  }

  /**
   * Forgets every claim of `owner`; returns every token key it had claimed, contested ones
   * included: a PIN kept for a token must not pass to a module that named the same token
   * beside it and is now its only claimant.
   */
  release(owner: string): string[] {
    const held: string[] = [];
    for (const [key, set] of this.claimants) {
      if (!set.delete(owner)) continue;
      held.push(key);
      if (set.size === 0) this.claimants.delete(key);
    }
    return held;
  }
}
