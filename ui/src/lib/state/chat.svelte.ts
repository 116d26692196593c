// The open chat: its stored messages and the answer being written.
import { Channel } from "@tauri-apps/api/core";
import type { AnswerEvent, MessageView } from "../bindings";
import { call, commands, describe } from "../ipc";

export interface PendingAnswer {
  question: string;
  text: string;
  askId: number | null;
  stopRequested: boolean;
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
  async ask(collection: string, question: string): Promise<MessageView | null> {
    if (this.pending) return null;
    this.error = null;
    const pending: PendingAnswer = { question, text: "", askId: null, stopRequested: false };
    this.pending = pending;
    const channel = new Channel<AnswerEvent>();
    channel.onmessage = (event) => {
      if (!this.pending) return;
      if (event.kind === "started") this.pending.askId = event.ask_id;
      else this.pending.text += event.text;
      if (event.kind === "started" && this.pending.stopRequested) void commands.stopAnswer(event.ask_id);
    };
    try {
      const message = await call(commands.ask(collection, this.chatId, question, channel));
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
