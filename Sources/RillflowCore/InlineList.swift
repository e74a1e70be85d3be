/// A list that keeps its first element inline and only the rest in an array. Per step the
/// engine keeps a few lists that nearly always hold one element (the events a step sends, the
/// hooks run when its context is let go); as arrays, each cost an allocation on every step.
struct InlineList<Element>: Sequence {
    private var first: Element?
    private var rest: [Element] = []

    init() {}

    mutating func append(_ element: Element) {
        if first == nil { first = element } else { rest.append(element) }
    }

    func makeIterator() -> Iterator { Iterator(first: first, rest: rest.makeIterator()) }

    struct Iterator: IteratorProtocol {
        fileprivate var first: Element?
        fileprivate var rest: IndexingIterator<[Element]>

        mutating func next() -> Element? {
            if let element = first {
                first = nil
                return element
            }
            return rest.next()
        }
    }
}
