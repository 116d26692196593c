// Server state: what the backend holds (collections, documents, chats, models), refreshed
// after each change. UI-only state (open dialogs, drafts) lives in components.
import type { AppStatus, ChatView, CollectionView, DocumentView } from "../bindings";
import { call, commands } from "../ipc";

class Library {
  status = $state<AppStatus | null>(null);
  collections = $state<CollectionView[]>([]);
  selected = $state<string | null>(null);
  documents = $state<DocumentView[]>([]);
  chats = $state<ChatView[]>([]);
  loadError = $state<string | null>(null);

  get current(): CollectionView | null {
    return this.collections.find((c) => c.name === this.selected) ?? null;
  }

  async load(): Promise<void> {
    this.status = await call(commands.appStatus());
    await this.refreshCollections();
  }

  async refreshCollections(): Promise<void> {
    this.collections = await call(commands.listCollections());
    if (!this.collections.some((c) => c.name === this.selected)) {
      this.selected = this.collections[0]?.name ?? null;
    }
    await this.refreshCurrent();
  }

  async refreshCurrent(): Promise<void> {
    const name = this.selected;
    if (name === null) {
      this.documents = [];
      this.chats = [];
      return;
    }
    const [documents, chats] = await Promise.all([
      call(commands.listDocuments(name)),
      call(commands.listChats(name)),
    ]);
    if (this.selected === name) {
      this.documents = documents;
      this.chats = chats;
    }
  }

  async select(name: string): Promise<void> {
    this.selected = name;
    await this.refreshCurrent();
  }

  async create(name: string): Promise<CollectionView> {
    const created = await call(commands.createCollection(name));
    this.selected = created.name;
    await this.refreshCollections();
    return created;
  }

  async rename(name: string, newName: string): Promise<void> {
    await call(commands.renameCollection(name, newName));
    if (this.selected === name) this.selected = newName.trim();
    await this.refreshCollections();
  }

  async remove(name: string): Promise<void> {
    await call(commands.deleteCollection(name));
    await this.refreshCollections();
  }

  async removeDocument(documentId: number): Promise<void> {
    if (this.selected === null) return;
    await call(commands.removeDocument(this.selected, documentId));
    await this.refreshCollections();
  }
}

export const library = new Library();
