// Which cited passage the document viewer shows.
import type { PassageView } from "../bindings";

class ViewerState {
  passage = $state<PassageView | null>(null);

  show(passage: PassageView): void {
    this.passage = passage;
  }

  close(): void {
    this.passage = null;
  }
}

export const viewer = new ViewerState();
