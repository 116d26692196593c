// The open chat: its stored messages and the answer being written.
import { Channel } from "@tauri-apps/api/core";
import type { AnswerEvent, MessageView, PassageView } from "../bindings";
import { call, commands, describe } from "../ipc";

export interface PendingAnswer {
  question: string;
  text: string;
  askId: number | null;
  stopRequested: boolean;
  /** The passages retrieved, as soon as retrieval ends. */
  sources: PassageView[];
  /** Prompt tokens the model has read, until its first word. */
  reading: { done: number; total: number } | null;
}

class ChatState {
  chatId = $state<number | null>(null);
  messages = $state<MessageView[]>([]);
  pending = $state<PendingAnswer | null>(null);
  error = $state<string | null>(null);

  async open(chatId: number): Promise<void> {
    this.error = null;
    this.chatId = chatId;
    const messages = await call(commands.chatMessages(chatId));
    if (this.chatId === chatId) this.messages = messages;
  }

  startNew(): void {
    this.chatId = null;
    this.messages = [];
    this.error = null;
  }

  /** Streams an answer into `pending`; resolves with the stored message (null on error). */
  async ask(collectionId: number, question: string): Promise<MessageView | null> {
    if (this.pending) return null;
    this.error = null;
    const pending: PendingAnswer = {
      question,
      text: "",
      askId: null,
      stopRequested: false,
      sources: [],
      reading: null,
    };
    this.pending = pending;
    const channel = new Channel<AnswerEvent>();
    channel.onmessage = (event) => {
      if (!this.pending) return;
      switch (event.kind) {
        case "started":
          this.pending.askId = event.ask_id;
          if (this.pending.stopRequested) void commands.stopAnswer(event.ask_id);
          break;
        case "sources":
          this.pending.sources = event.passages;
          break;
        case "reading":
          this.pending.reading = { done: event.done, total: event.total };
          break;
        case "piece":
          this.pending.text += event.text;
          break;
      }
    };
    try {
      const message = await call(commands.ask(collectionId, this.chatId, question, channel));
      this.chatId = message.chat_id;
      this.messages = [...this.messages, message];
      return message;
    } catch (error) {
      this.error = describe(error);
      return null;
    } finally {
      this.pending = null;
    }
  }

  /** Asks the backend to read the prompt of `draft` (a question being typed) ahead of time;
   * a newer draft or a real question takes its place. Failures only cost the head start. */
  async preread(collectionId: number, draft: string): Promise<void> {
    if (this.pending) return;
    try {
      await commands.preread(collectionId, this.chatId, draft);
    } catch {
      // The answer will read the prompt itself.
    }
  }

  async stop(): Promise<void> {
    if (!this.pending) return;
    this.pending.stopRequested = true;
    if (this.pending.askId !== null) await commands.stopAnswer(this.pending.askId);
  }

  async rate(messageId: number, rating: 1 | -1, comment: string | null): Promise<void> {
    await call(commands.setFeedback(messageId, rating, comment));
    this.messages = this.messages.map((m) =>
      m.id === messageId ? { ...m, feedback: { rating, comment } } : m,
    );
  }
}

export const chat = new ChatState();
