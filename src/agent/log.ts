// The agent's log sink. The agent never prints: the CLI hands in where lines go (stderr in
// debug mode, a file or journald otherwise). The client only ever sees a bare failure byte,
// so every refusal must say its reason here.
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type AgentLog = (level: LogLevel, message: string) => void;

export const silentLog: AgentLog = () => {};
