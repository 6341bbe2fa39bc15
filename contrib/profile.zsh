# tt-agent for zsh login shells: add to ~/.zprofile (`tt-agent setup` prints the line).
# The same checks as profile.sh, without starting Node when the agent runs: the fixed socket
# is a socket (not a symlink) owned by you, and `ssh-add -l` reaches an agent (exit 0 or 1).
() {
  local sock=${XDG_RUNTIME_DIR:+$XDG_RUNTIME_DIR/tt-agent/agent.sock}
  if [[ -n $sock && -S $sock && -O $sock && ! -h $sock ]]; then
    SSH_AUTH_SOCK=$sock ssh-add -l >/dev/null 2>&1
    if (( $? <= 1 )); then
      [[ ${SSH_AUTH_SOCK:-} == $sock ]] || unset SSH_AGENT_PID
      export SSH_AUTH_SOCK=$sock
      return
    fi
  fi
  (( $+commands[tt-agent] )) && eval "$(tt-agent -s)" >/dev/null
}
