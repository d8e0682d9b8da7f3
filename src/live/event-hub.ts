// Fan-out of recorded events to live subscribers (the dashboard's event stream).
// Publishing never waits for a subscriber: each one gets the event and decides itself
// whether to buffer or drop it (see src/http/events-stream.ts).
import type { BootEvent } from '../boot/events.ts';

export interface StreamedEvent {
  /** Position in this process's stream (not the event-log row id, which is assigned later). */
  seq: number;
  event: BootEvent;
  /** The SSE frame, built once per event however many clients read it. */
  frame: () => string;
}

export type Subscriber = (e: StreamedEvent) => void;

interface Subscription {
  receive: Subscriber;
  /** Ends the subscriber's connection (daemon stopping). */
  close: () => void;
}

export class EventHub {
  private readonly subscribers = new Set<Subscription>();
  private seq = 0;

  get clients(): number {
    return this.subscribers.size;
  }

  subscribe(receive: Subscriber, close: () => void): () => void {
    const subscription = { receive, close };
    this.subscribers.add(subscription);
    return () => {
      this.subscribers.delete(subscription);
    };
  }

  /** Closes every subscriber (the HTTP server is stopping: open streams must not hold it up). */
  closeAll(): void {
    for (const s of [...this.subscribers]) {
      this.subscribers.delete(s);
      s.close();
    }
  }

  publish(event: BootEvent): void {
    if (this.subscribers.size === 0) return;
    const seq = ++this.seq;
    let frame: string | null = null;
    const streamed: StreamedEvent = {
      seq,
      event,
      frame: () => (frame ??= `id: ${seq}\nevent: boot-event\ndata: ${JSON.stringify({ ...event, time: new Date(event.time).toISOString() })}\n\n`),
    };
    for (const s of this.subscribers) {
      try {
        s.receive(streamed);
      } catch {
        // a subscriber's failure is its own; it closes itself
      }
    }
  }
}
