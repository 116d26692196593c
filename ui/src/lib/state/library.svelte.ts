// Server state: what the backend holds (collections, documents, chats, models), refreshed
// after each change. UI-only state (open dialogs, drafts) lives in components.
import type { AppStatus, ChatView, CollectionView, DocumentView, FolderView } from "../bindings";
import { call, commands } from "../ipc";

class Library {
  status = $state<AppStatus | null>(null);
  collections = $state<CollectionView[]>([]);
  /** The open collection's id. */
  selected = $state<number | null>(null);
  documents = $state<DocumentView[]>([]);
  /** The folders the open collection follows. */
  folders = $state<FolderView[]>([]);
  chats = $state<ChatView[]>([]);
  loadError = $state<string | null>(null);

  get current(): CollectionView | null {
    return this.collections.find((c) => c.id === this.selected) ?? null;
  }

  async load(): Promise<void> {
    this.status = await call(commands.appStatus());
    await this.refreshCollections();
  }

  async refreshCollections(): Promise<void> {
    this.collections = await call(commands.listCollections());
    if (!this.collections.some((c) => c.id === this.selected)) {
      this.selected = this.collections[0]?.id ?? null;
    }
    await this.refreshCurrent();
  }

  async refreshCurrent(): Promise<void> {
    const id = this.selected;
    if (id === null) {
      this.documents = [];
      this.folders = [];
      this.chats = [];
      return;
    }
    const [documents, folders, chats] = await Promise.all([
      call(commands.listDocuments(id)),
      call(commands.listFolders(id)),
      call(commands.listChats(id)),
    ]);
    if (this.selected === id) {
      this.documents = documents;
      this.folders = folders;
      this.chats = chats;
    }
  }

  async select(id: number): Promise<void> {
    this.selected = id;
    await this.refreshCurrent();
  }

  async create(name: string): Promise<CollectionView> {
    const created = await call(commands.createCollection(name));
    this.selected = created.id;
    await this.refreshCollections();
    return created;
  }

  async rename(id: number, newName: string): Promise<void> {
    await call(commands.renameCollection(id, newName));
    await this.refreshCollections();
  }

  async remove(id: number): Promise<void> {
    await call(commands.deleteCollection(id));
    await this.refreshCollections();
  }

  /** Follows a folder; its first sync starts as a job. */
  async follow(path: string): Promise<void> {
    if (this.selected === null) return;
    await call(commands.followFolder(this.selected, path));
    await this.refreshCurrent();
  }

  /** Stops following a folder; its documents stay. */
  async unfollow(folderId: number): Promise<void> {
    if (this.selected === null) return;
    await call(commands.unfollowFolder(this.selected, folderId, false));
    await this.refreshCurrent();
  }

  async removeDocument(documentId: number): Promise<void> {
    if (this.selected === null) return;
    await call(commands.removeDocument(this.selected, documentId));
    await this.refreshCollections();
  }
}

export const library = new Library();
