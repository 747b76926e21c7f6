// A minimal typed event emitter (no dependency on Node's EventEmitter or the DOM's EventTarget).

export class Emitter<Events extends { [name: string]: unknown }> {
  private listeners: { [K in keyof Events]?: Set<(payload: Events[K]) => void> } = {};

  /** Adds `listener` for `name`; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: (payload: Events[K]) => void): () => void {
    (this.listeners[name] ??= new Set()).add(listener);
    return () => this.off(name, listener);
  }

  off<K extends keyof Events>(name: K, listener: (payload: Events[K]) => void): void {
    this.listeners[name]?.delete(listener);
  }

  /** Calls every listener of `name`; a throwing listener does not stop the others or the client. */
  protected emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    for (const listener of [...(this.listeners[name] ?? [])]) {
      try {
        listener(payload);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}
