// A PIN broker for provider tests: it keeps what tokens accept and asks nobody.
import { PinBroker } from '../../src/pin/broker';

export function quietPins(log?: (line: string) => void): PinBroker {
  return new PinBroker({ unlockWaitMs: 0, pinentry: false, askpass: { require: 'never' }, log });
}
