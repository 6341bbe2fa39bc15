# tt-agent for fish: copy to ~/.config/fish/conf.d/tt-agent.fish (`tt-agent setup` says so).
# The same checks as profile.sh, without starting Node when the agent runs: the fixed socket
# is a socket (not a symlink) owned by you, and `ssh-add -l` reaches an agent (exit 0 or 1).
if status is-interactive; or status is-login
    set -l sock
    set -q XDG_RUNTIME_DIR; and test -n "$XDG_RUNTIME_DIR"; and set sock $XDG_RUNTIME_DIR/tt-agent/agent.sock
    set -l found
    if test -n "$sock"; and test -S $sock; and test -O $sock; and not test -L $sock
        env SSH_AUTH_SOCK=$sock ssh-add -l >/dev/null 2>&1
        if test $status -le 1
            test "$SSH_AUTH_SOCK" = $sock; or set -e SSH_AGENT_PID
            set -gx SSH_AUTH_SOCK $sock
            set found 1
        end
    end
    if test -z "$found"; and command -q tt-agent
        env SHELL=fish tt-agent | source >/dev/null
    end
end
