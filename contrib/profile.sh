# tt-agent for login shells: add to ~/.profile (sh, bash; zsh users take profile.zsh).
#   . /usr/share/tt-agent/contrib/profile.sh    (or paste it; `tt-agent setup` prints the line)
# Costs no Node start when the agent runs: the fixed socket in $XDG_RUNTIME_DIR/tt-agent/ is
# used when it is a socket (not a symlink) owned by you and an agent answers there
# (`ssh-add -l` exits 0 or 1; 2 means nobody answered). A socket is owned by whoever bound
# it, so another user cannot plant one that passes. Otherwise tt-agent starts (or finds) one.
_tt_sock=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/tt-agent/agent.sock}
if [ -n "$_tt_sock" ] && [ -S "$_tt_sock" ] && [ -O "$_tt_sock" ] && [ ! -h "$_tt_sock" ] &&
  { SSH_AUTH_SOCK=$_tt_sock ssh-add -l >/dev/null 2>&1; [ $? -le 1 ]; }; then
  # Which process listens is not known without asking the kernel from Node: a pid that came
  # with another socket is dropped (a systemd-started agent stops with systemctl --user stop).
  [ "${SSH_AUTH_SOCK:-}" = "$_tt_sock" ] || unset SSH_AGENT_PID
  SSH_AUTH_SOCK=$_tt_sock
  export SSH_AUTH_SOCK
elif command -v tt-agent >/dev/null 2>&1; then
  eval "$(tt-agent -s)" >/dev/null
fi
unset _tt_sock
